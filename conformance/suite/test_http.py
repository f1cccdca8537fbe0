"""HTTP: the message itself, sent byte for byte (`conformance.raw_http`), varied one dimension
at a time (`conformance.http_cases`: the media type, the body, its framing, the target, the
method, the headers) for every operation, then in generated combinations.

Both profiles: no variant gets a 5xx (501 for an unknown method and 505 for an unknown HTTP
version are HTTP's own answers), and what HTTP itself requires holds: media types and header
names without letter case, chunked bodies and `Expect: 100-continue`, absolute-form targets,
400 for a missing or doubled `Host`.

`strict` profile: every variant gets the answer the refined contract declares (openapi.yaml's
description: 200 exactly when the variant is an equivalent spelling, else the named 4xx with a
JSON error), and a refused write stores nothing (read back through the API: the marker text
or change it carried is nowhere).
"""

import dataclasses
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from conformance.config import INCIDENT_OPERATIONS
from conformance.http_cases import (
    ACCEPT,
    DIMENSIONS,
    REFUSE,
    Case,
    Context,
    Operation,
    Variant,
    cases,
    matrix,
    problems,
)
from conformance.plugin import PRECONDITIONS
from conformance.preconditions import INCIDENTS, Preconditions
from conformance.raw_http import NoAnswer, exchange

pytestmark = pytest.mark.group("http")


@dataclass
class Setup:
    base: Context  # its incident is 0 until an operation on an incident needs one
    client: httpx.Client
    preconditions: Preconditions

    def context(self, operation: Operation) -> Context:
        """What the requests of `operation` need: for an operation on incidents, the group's
        incident, created at first need (a precondition: if the target cannot create one,
        those cases are blocked; the status operations are judged all the same)."""
        if operation.operation_id not in INCIDENT_OPERATIONS:
            return self.base

        def make() -> dict:
            body = {"title": "conformance: http", "body": "conformance", "tags": [self.base.tag]}
            answer = self.client.post("/api/incident", json=body)
            assert answer.status_code == 200, (
                f"POST /api/incident answered {answer.status_code}: {answer.text[:200]!r}"
            )
            number = answer.json().get("incidentNumber")
            assert isinstance(number, int), f"POST /api/incident answered {answer.text[:200]!r}"
            return number

        number = self.preconditions.run(
            INCIDENTS, make, keep="the http group's incident", variant="with title, body, tags"
        )
        return dataclasses.replace(self.base, incident=number)


@pytest.fixture(scope="module")
def setup(target, pytestconfig):
    client = httpx.Client(
        base_url=target.base_url,
        headers={"Authorization": f"Bearer {target.token}"},
        timeout=30,
    )
    preconditions = pytestconfig.stash[PRECONDITIONS]
    tag = target.tags[0]

    def push() -> None:
        pushed = client.post("/api/status", json={"status": "UP", "latency": 1, "tag": tag})
        assert pushed.status_code == 200, (
            f"POST /api/status answered {pushed.status_code}: {pushed.text[:200]!r}"
        )

    try:
        preconditions.run("pushing a status", push)
        context = Context(
            host=urlsplit(target.base_url).netloc,
            token=target.token,
            tag=tag,
            incident=0,
            marker=f"conformance: refused, never stored {uuid.uuid4().hex[:12]}",
        )
        yield Setup(context, client, preconditions)
    finally:
        client.close()


def _stored_marker(setup: Setup, operation: Operation) -> str | None:
    """Where a refused write of `operation` shows, read back through the API, or None."""
    context, client = setup.context(operation), setup.client
    incident = f"/api/incident/{context.incident}"
    if operation.operation_id == "updateMonitorStatus":
        status = client.get("/api/status", params={"tag": context.tag}).json().get("status")
        return "the monitor's status became DOWN" if status == "DOWN" else None
    if operation.operation_id == "createIncident":
        for state in ("open", "closed"):
            found = client.get(
                "/api/incident", params={"title_like": context.marker, "state": state}
            ).json()
            if found:
                return f"an incident titled {context.marker!r} was created"
    if (
        operation.operation_id == "updateIncident"
        and client.get(incident).json().get("title") == context.marker
    ):
        return "the incident's title was replaced"
    if operation.operation_id == "addIncidentComment":
        comments = client.get(f"{incident}/comment").json()
        if any(comment.get("body") == context.marker for comment in comments):
            return "the comment was added"
    if (
        operation.operation_id == "updateIncidentStatus"
        and client.get(incident).json().get("isIdentified") is True
    ):
        return "isIdentified became true"
    return None


def baseline(target, setup: Setup, operation: Operation) -> None:
    """Precondition of an operation's variants: its plain request is answered 200 (a rule of
    its own, KENER-HTTP-008). When it is not, the variants of that operation are blocked by
    that cause: a variant's failure must be about the variant."""

    def plain() -> bool:
        request = Case(operation, ()).request(setup.context(operation))
        try:
            answer = exchange(target.base_url, request.encode())
        except NoAnswer as error:
            raise AssertionError(f"the plain {operation.operation_id} request: {error}") from None
        assert answer.status == 200, (
            f"the plain {operation.operation_id} request was answered {answer.status}: "
            f"{answer.body[:200]!r}"
        )
        return True

    setup.preconditions.run(
        f"the plain {operation.operation_id} request",
        plain,
        keep=f"the plain {operation.operation_id} request",
    )


def judge(target, setup: Setup, case: Case, plain_first: bool = True) -> None:
    if plain_first and case.variants:
        baseline(target, setup, case.operation)
    request = case.request(setup.context(case.operation))
    try:
        answer = exchange(target.base_url, request.encode())
    except NoAnswer as error:
        raise AssertionError(f"{case.id}: {error}\n\n{request.describe()}") from None
    found = problems(case, answer, strict=target.strict)
    if target.strict and case.outcome == REFUSE and case.operation.body is not None:
        stored = _stored_marker(setup, case.operation)
        if stored:
            found.append(f"refused with {answer.status}, yet {stored}")
    assert not found, f"{case.id}: " + "; ".join(found) + f"\n\n{request.describe()}"


def _cases_of(dimension: str) -> list[tuple[Operation, Variant]]:
    return [(op, variant) for op, variant in matrix() if variant.dimension == dimension]


def _ids(pairs) -> list[str]:
    return [f"{op.operation_id}-{variant.name}" for op, variant in pairs]


def _test_of(dimension: str):
    pairs = _cases_of(dimension)

    @pytest.mark.parametrize("operation, variant", pairs, ids=_ids(pairs))
    def test(target, setup, operation, variant, request):
        request.applymarker(pytest.mark.operation(operation.operation_id))
        judge(target, setup, Case(operation, (variant,)))

    test.__doc__ = f"Each {dimension} variant with every operation it applies to."
    return test


test_content_type = _test_of("content-type")
test_body = _test_of("body")
test_framing = _test_of("framing")
test_target = _test_of("target")
test_method = _test_of("method")
test_headers = _test_of("headers")
assert set(DIMENSIONS) == {"content-type", "body", "framing", "target", "method", "headers"}


def test_combinations(target, setup):
    """Variants of several dimensions at once: accepted when every one is an equivalent
    spelling, refused otherwise (strict), and never a 5xx."""
    import hypothesis
    from hypothesis import HealthCheck, given, settings

    @settings(
        max_examples=target.max_examples * 4,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def combination(case):
        try:
            baseline(target, setup, case.operation)
        except pytest.skip.Exception:
            hypothesis.reject()  # blocked: its plain request fails (KENER-HTTP-008 says so)
        judge(target, setup, case, plain_first=False)

    combination()


def test_a_plain_request_is_accepted(target, setup):
    """The baseline of every variant: the plain request of each operation is answered 200, so
    that a failing variant is about the variant."""
    for operation, _ in {op.operation_id: (op, None) for op, _ in matrix()}.values():
        case = Case(operation, ())
        assert case.outcome == ACCEPT
        judge(target, setup, case, plain_first=False)
