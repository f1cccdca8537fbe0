"""Kener status-page API server."""

from kener_api.app import create_app
from kener_api.settings import Settings

__all__ = ["Settings", "create_app"]
