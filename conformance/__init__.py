"""Conformance suite for the Kener status-page API: judges any implementation by its URL.

It never imports the server: every test talks HTTP to a base URL.
"""
