"""Fixtures of the conformance tests. They know the target only by its URL and token.

One verdict per cause: the set-up that many tests share (an incident to work on, a monitor's
day to fill) is a precondition. When one fails, its cause is recorded once and every test
that needs it is reported as blocked by that cause (not as failed, nor as an error); the
rules about that set-up's own answer (creating an incident, pushing a status) judge it. A
set-up request's answer is not checked against the OpenAPI document in the tests that only
use it: the tests about that operation check it.
"""

import uuid

import pytest

from conformance.client import KenerClient, SpecValidator
from conformance.plugin import EXCHANGES, PRECONDITIONS, operations_of
from conformance.suite.checks import SharedIncident


@pytest.fixture(scope="session")
def validator(target) -> SpecValidator:
    return SpecValidator(target.spec_path)


def _judged(request) -> frozenset[str] | None:
    operations = frozenset(operations_of(request.node)) - {"-"}
    return operations or None


@pytest.fixture
def api(target, validator, request):
    """A client sending the right token; answers of the operations the test is about are
    validated against the profile's spec."""
    client = KenerClient(
        target.base_url,
        target.token,
        validator,
        request.node.stash[EXCHANGES],
        _judged(request),
        request.config.stash[PRECONDITIONS],
    )
    yield client
    client.close()


@pytest.fixture
def anonymous(target, validator, request):
    """A client sending no token."""
    client = KenerClient(
        target.base_url, None, validator, request.node.stash[EXCHANGES], _judged(request)
    )
    yield client
    client.close()


@pytest.fixture
def unique() -> str:
    """A text no other test (nor an earlier run on the same server) uses: for titles."""
    return f"conformance-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def preconditions(pytestconfig):
    return pytestconfig.stash[PRECONDITIONS]


@pytest.fixture
def shared_incident(api, target, preconditions) -> SharedIncident:
    return SharedIncident(api, target, preconditions)
