"""Operations tagged `Service`: liveness, readiness and the contract itself."""

import storage
from kener_api import api_docs, contract, metrics, pages

READINESS_SECONDS = 2
RETRY_AFTER_SECONDS = 5


def get_liveness():
    """The process answers."""
    return {"status": "ok"}


def get_readiness():
    """The database answers within READINESS_SECONDS."""
    problem = storage.readiness(READINESS_SECONDS)
    if problem:
        return (
            {"error": f"database not ready: {problem}"},
            503,
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return {"status": "ready"}


def get_contract_yaml():
    """The OpenAPI document this server validates with, as YAML."""
    return contract.yaml_text(), 200, {"Content-Type": "application/yaml"}


def get_contract_json():
    """The same document, as JSON."""
    return contract.document()


def get_api_docs():
    """Swagger UI on this contract."""
    return api_docs.page(pages.current().site.site_name)


def get_api_docs_asset(asset: str):
    """Swagger UI's files and the page's start-up script."""
    return api_docs.file(asset)


def get_metrics():
    """The Prometheus metrics of this process."""
    return metrics.current().response()
