"""The contract this server validates with, as `/openapi.yaml` and `/openapi.json` serve it:
`openapi.yaml` as written, or, for a private deployment, the document without its `Public`
operations (kener_api.app.without_public_operations)."""

import json

import yaml

_served = {"document": {}, "yaml": ""}


def configure(document: dict, text: str | None = None) -> None:
    """Serve `document`; `text` is its YAML as written (comments and order kept), when the
    document is the file unchanged."""
    _served["document"] = document
    _served["yaml"] = text if text is not None else yaml.safe_dump(document, sort_keys=False)
    _served["json"] = json.loads(json.dumps(document))  # what a JSON answer can hold


def document() -> dict:
    return _served["json"]


def yaml_text() -> str:
    return _served["yaml"]
