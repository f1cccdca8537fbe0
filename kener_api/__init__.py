"""Kener status-page API server."""

import warnings

# connexion imports starlette's test client, which warns about its httpx backend on every
# start; the server does not use that client.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from kener_api.app import create_app  # noqa: E402
from kener_api.settings import Settings  # noqa: E402

__all__ = ["Settings", "create_app"]
