"""Property-based conformance with Schemathesis: every operation of the profile's spec.

For each operation, one test runs Schemathesis' examples, coverage and fuzzing phases, with
positive and negative data, and judges every answer with these checks: not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance,
response_headers_conformance, negative_data_rejection, ignored_auth, unsupported_method,
allow_header_conformance and positive_data_acceptance (schema-valid data may still name an
unknown tag or incident, or break a rule no schema can express, so 400 is accepted beside 2xx,
and 404 where an operation declares it: the public pages).
When the spec has `links` (the strict openapi.yaml does, the original Kener 2.0 spec does not),
one more test runs stateful scenarios along them: create an incident, then read, replace,
comment on and resolve it.

The spec, the target and its tags are only known from the command line, so nothing is loaded
at import: `pytest_generate_tests` lists the operations of the profile's spec (one test each,
marked with its operationId), and each test builds the operation's Hypothesis test the way
Schemathesis' own lazy pytest integration does (`schemathesis.pytest.lazy.get_all_tests`, on
the schema narrowed to that operation) and runs it against the target's URL.
(`schemathesis.pytest.from_fixture` itself cannot be used: 4.32.5 reads
`request.node._nodeid`, which pytest 9.2 no longer has.)

Generation is steered towards the success paths, so that the report's 2xx share per operation
means something: monitor tags are often the target's known tags, incident numbers often those
of incidents created for this session, timestamps often minutes the target accepts (its
current minute, as `POST /api/status` reports it, and minutes shortly before), titles, bodies
and searched titles often non-empty texts that match those incidents.

Every generated case's answer is counted per operationId ("2xx" or the status code) in the
report's table of generated cases. A failure shows Schemathesis' report of the failing
request and answer, with a curl command reproducing it.
"""

import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.core.failures import FailureGroup, as_reported_failure
from schemathesis.core.result import Err
from schemathesis.generation.hypothesis.reporting import ignore_hypothesis_output
from schemathesis.pytest.lazy import get_all_tests

from conformance.config import CHECKS, PROFILES
from conformance.plugin import SCHEMA_CASES

pytestmark = pytest.mark.group("schema")

# Steps per stateful scenario; the number of scenarios is --kener-max-examples.
STATEFUL_STEPS = 8
# Texts that are no integer, though Python's int() reads one from them: surrounding
# whitespace, `_` digit separators, non-ASCII digits. Integer parameters must be decimal digits
# (a rule of the refined contract), so in the strict profile negative cases send these.
NOT_INTEGERS = [" 1", "1\n", "1_0", "\u0661"]


# --- Collection: the operations of the profile's spec ----------------------------------------


@cache
def _plain_schema(spec_path: Path) -> schemathesis.BaseSchema:
    """The spec as Schemathesis reads it, without any target settings: for collection."""
    return schemathesis.openapi.from_path(spec_path)


def _operation_ids(schema: schemathesis.BaseSchema) -> list[str]:
    return [
        schema.get_operation_id(result.ok()) or result.ok().label
        for result in schema.get_all_operations()
        if not isinstance(result, Err)
    ]


def _linked_operation_ids(schema: schemathesis.BaseSchema) -> list[str]:
    """Operations with outgoing or incoming `links`: those the stateful scenarios combine."""
    targets = schema.operations_with_incoming_links()
    linked = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            continue
        operation = result.ok()
        responses = operation.definition.raw.get("responses", {}).values()
        has_links = any(isinstance(answer, dict) and answer.get("links") for answer in responses)
        if has_links or operation.label in targets:
            linked.append(schema.get_operation_id(operation) or operation.label)
    return linked


def pytest_generate_tests(metafunc):
    schema = _plain_schema(PROFILES[metafunc.config.getoption("kener_profile")])
    if "operation_id" in metafunc.fixturenames:
        metafunc.parametrize(
            "operation_id",
            [
                pytest.param(
                    operation_id, id=operation_id, marks=pytest.mark.operation(operation_id)
                )
                for operation_id in _operation_ids(schema)
            ],
        )
    if "linked_operations" in metafunc.fixturenames:
        linked = _linked_operation_ids(schema)
        if linked and schema.statistic.transitions.total:
            param = pytest.param(linked, id="links", marks=pytest.mark.operation(*linked))
        else:
            param = pytest.param(
                [], id="links", marks=pytest.mark.skip(reason="the profile's spec has no links")
            )
        metafunc.parametrize("linked_operations", [param])


# --- Session: what generation is steered towards ---------------------------------------------


@dataclass(frozen=True)
class Steering:
    minute: int  # the target's current UTC minute when the session started, in seconds
    incidents: tuple[int, ...]  # numbers of incidents created for this session
    marker: str  # a text in the titles of those incidents, and nowhere else


def _json_field(answer: httpx.Response, name: str):
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None


def _success_minute(answer: httpx.Response) -> int | None:
    match = re.fullmatch(r"success at ([0-9]+)", str(_json_field(answer, "message")))
    return int(match.group(1)) if match else None


@pytest.fixture(scope="session")
def steering(target) -> Steering:
    """Create a few incidents with unique titles (one with a comment), and learn the target's
    current minute from a status update sent without a timestamp."""
    marker = f"conformance-{uuid.uuid4().hex[:12]}"
    first, last = target.tags[0], target.tags[-1]
    seeds = [
        {"title": f"{marker} outage in mumbai", "tags": [first], "impact": "DOWN"},
        {"title": f"{marker} both down", "tags": list(target.tags), "isIdentified": True},
        {"title": f"{marker} degraded", "tags": [last], "impact": "DEGRADED", "body": "slow"},
        {
            "title": f"{marker} planned maintenance",
            "tags": [last],
            "isMaintenance": True,
            "isResolved": True,
        },
    ]
    headers = {"Authorization": f"Bearer {target.token}"}
    with httpx.Client(base_url=target.base_url, headers=headers, timeout=30) as client:

        def send(method: str, path: str, body: dict) -> httpx.Response:
            answer = client.request(method, path, json=body)
            if answer.status_code != 200:
                pytest.fail(
                    f"cannot prepare the schema tests: {method} {path} {body} was answered "
                    f"{answer.status_code}: {answer.text[:500]}"
                )
            return answer

        numbers = []
        for seed in seeds:
            answer = send("POST", "/api/incident", seed)
            number = _json_field(answer, "incidentNumber")
            if not isinstance(number, int):
                pytest.fail(
                    f"cannot prepare the schema tests: no incidentNumber in {answer.text!r}"
                )
            numbers.append(number)
        send("POST", f"/api/incident/{numbers[0]}/comment", {"body": f"{marker} investigating"})
        minutes = [
            _success_minute(
                send("POST", "/api/status", {"status": "UP", "latency": 0.1, "tag": tag})
            )
            for tag in target.tags
        ]
    known = [minute for minute in minutes if minute is not None]
    # A target that does not say which minute it recorded: a minute ago by this machine's clock.
    minute = min(known) if known else int(time.time()) // 60 * 60 - 60
    return Steering(minute=minute, incidents=tuple(numbers), marker=marker)


def _config(target, steering: Steering) -> schemathesis.Config:
    checks: dict = {"enabled": False, **{name: {"enabled": True} for name in CHECKS}}
    checks["positive_data_acceptance"] = {
        "enabled": True,
        "expected-statuses": ["2xx", "400", "404"],
    }
    minute, marker = steering.minute, steering.marker
    tags = list(target.tags)
    not_integers = NOT_INTEGERS if target.strict else []
    # NUL is no text the strict contract allows (400); in kener-2.0 it is not judged.
    nul = ["a\x00b"] if target.strict else []
    return schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"bearerAuth": {"bearer": target.token}}},
            "checks": checks,
            # No example database: each run draws afresh instead of replaying earlier failures
            # (a failure's report carries a curl command to reproduce it).
            "generation": {"max-examples": target.max_examples, "database": "none"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
            },
            "dictionaries": {
                "tags": {"values": tags},
                # The public paths' tag: a monitor's, or `_` (all of them, on status badges).
                "path_tags": {"values": [*tags, "_"]},
                "incident_texts": {"values": [str(n) for n in steering.incidents]},
                "tag_lists": {"values": [*tags, ",".join(tags), ", ".join(reversed(tags))]},
                "incidents": {"values": [*steering.incidents, *not_integers]},
                "counts": {"values": [1, 2, 10, 100, *not_integers]},
                # Minutes the target accepts: its current minute and minutes shortly before.
                "timestamps": {"values": [minute, minute - 60, minute - 600, minute - 3600]},
                "latencies": {"values": [0, 0.25, 1.5, 100]},
                "times": {"values": [minute - 86_400, minute, minute + 86_400, *not_integers]},
                # Incident periods: every start before every end.
                "starts": {"values": [minute - 7200, minute - 3600]},
                "ends": {"values": [minute, minute + 3600]},
                "titles": {
                    "values": [
                        f"{marker} outage",
                        f"{marker} ÜBER 50% down_ 🙂",
                        "Outage in mumbai",
                        "İSTANBUL ß",
                        *nul,
                    ]
                },
                "searches": {"values": [marker, "outage", "%", "_", "İstanbul", *nul]},
            },
            "parameters": {
                "query.tag": {"dictionary": "tags", "probability": 0.8},
                "query.tags": {"dictionary": "tag_lists", "probability": 0.6},
                "path.incidentNumber": {"dictionary": "incidents", "probability": 0.8},
                "path.tag": {"dictionary": "path_tags", "probability": 0.8},
                "path.number": {"dictionary": "incident_texts", "probability": 0.8},
                "query.page": {"dictionary": "counts", "probability": 0.4},
                "query.per_page": {"dictionary": "counts", "probability": 0.5},
                "query.created_after_utc": {"dictionary": "times", "probability": 0.4},
                "query.created_before_utc": {"dictionary": "times", "probability": 0.4},
                "query.title_like": {"dictionary": "searches", "probability": 0.5},
                "body.tag": {"dictionary": "tags", "probability": 0.8},
                "body.tags[*]": {"dictionary": "tags", "probability": 0.9},
                "body.timestampInSeconds": {"dictionary": "timestamps", "probability": 0.8},
                "body.latency": {"dictionary": "latencies", "probability": 0.7},
                "body.startDatetime": {"dictionary": "starts", "probability": 0.8},
                "body.endDatetime": {"dictionary": "ends", "probability": 0.8},
                "body.title": {"dictionary": "titles", "probability": 0.6},
                "body.body": {"dictionary": "titles", "probability": 0.5},
            },
        }
    )


@pytest.fixture(scope="session")
def schema(target, steering) -> schemathesis.BaseSchema:
    """The profile's spec, with the target's token and the steering dictionaries."""
    return schemathesis.openapi.from_path(target.spec_path, config=_config(target, steering))


# --- Tests -----------------------------------------------------------------------------------


def _answer_class(status_code: int) -> str:
    return "2xx" if 200 <= status_code < 300 else str(status_code)


def _operation_id(schema: schemathesis.BaseSchema, operation: schemathesis.APIOperation) -> str:
    return schema.get_operation_id(operation) or operation.label


def test_operation(operation_id, schema, target, pytestconfig):
    """Examples, coverage and fuzzing phases of one operation; every answer passes the checks."""
    answers: Counter = pytestconfig.stash[SCHEMA_CASES][operation_id]
    base_url = target.base_url

    def check(case):
        response = case.call(base_url=base_url)
        answers[_answer_class(response.status_code)] += 1
        case.validate_response(response, transport_kwargs={"base_url": base_url})

    tests = list(
        get_all_tests(
            schema=schema.include(operation_id=operation_id),
            test_func=check,
            settings=None,
            given_kwargs={},
        )
    )
    assert len(tests) == 1, f"{operation_id}: {len(tests)} operations in the spec have this id"
    result = tests[0]
    if isinstance(result, Err):
        raise result.err()  # the spec itself is broken for this operation
    _, hypothesis_test = result.ok()
    _run(hypothesis_test)


def test_stateful_links(linked_operations, schema, target, pytestconfig):
    """Scenarios along the spec's `links`, each call judged by the same checks."""
    cases = pytestconfig.stash[SCHEMA_CASES]
    base_url = target.base_url

    class Links(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": base_url}

        def after_call(self, response, case):
            super().after_call(response, case)
            operation_id = _operation_id(schema, case.operation)
            cases[operation_id][_answer_class(response.status_code)] += 1

    settings = hypothesis.settings(
        schema.config.get_hypothesis_settings(phase="stateful"),
        max_examples=target.max_examples,
        stateful_step_count=STATEFUL_STEPS,
        # As Schemathesis' own stateful runs: HTTP calls make health checks meaningless.
        suppress_health_check=list(HealthCheck),
    )
    _run(lambda: Links.run(settings=settings))


def _run(test) -> None:
    """Run a Hypothesis test; check failures are reported as assertion failures whose message
    is Schemathesis' report (failing checks, the answer, a curl command to reproduce)."""
    __tracebackhide__ = True
    try:
        with ignore_hypothesis_output():
            test()
    except FailureGroup as failures:
        raise as_reported_failure(failures) from None
