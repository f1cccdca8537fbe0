"""Conformance suite for the Kener status-page API: judges any implementation by its URL.

It never imports the server: every test talks HTTP to a base URL.
"""

# The suite's version: rule identifiers (conformance/rules.py) keep their meaning across
# versions; a new minor version adds rules, a new major one may retire some.
__version__ = "1.0.0"
