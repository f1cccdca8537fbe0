"""Fixtures of the conformance tests. They know the target only by its URL and token."""

import uuid

import pytest

from conformance.client import KenerClient, SpecValidator
from conformance.plugin import EXCHANGES


@pytest.fixture(scope="session")
def validator(target) -> SpecValidator:
    return SpecValidator(target.spec_path)


@pytest.fixture
def api(target, validator, request):
    """A client sending the right token; answers are validated against the profile's spec."""
    client = KenerClient(target.base_url, target.token, validator, request.node.stash[EXCHANGES])
    yield client
    client.close()


@pytest.fixture
def anonymous(target, validator, request):
    """A client sending no token."""
    client = KenerClient(target.base_url, None, validator, request.node.stash[EXCHANGES])
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    """A text no other test (nor an earlier run on the same server) uses: for titles."""
    return f"conformance-{uuid.uuid4().hex[:12]}"
