"""Property-based conformance with Schemathesis: every operation of the profile's spec.

For each operation, one test runs Schemathesis' examples, coverage and fuzzing phases, with
positive and negative data, and judges every answer with these checks: not_a_server_error,
status_code_conformance, content_type_conformance, response_schema_conformance,
response_headers_conformance, negative_data_rejection, ignored_auth, positive_data_acceptance
and, in the strict profile only, unsupported_method and allow_header_conformance (405 with
`Allow` for an undeclared method is a rule of the refined contract; Kener 2.0's spec promises
nothing about it).
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

Positive data is accepted data
    A schema cannot say everything the contract does: which monitor tags and incident numbers
    exist, that a timestamp lies in the 90-day window and not after the current minute, that
    `endDatetime` comes after `startDatetime` (the incident's own, for a status update), that
    a search's `tags` are known tags, that text holds no NUL, that a request body stays under
    the server's limit (64 KiB by default). And the original Kener 2.0 spec, which the
    `kener-2.0` profile judges by, states none of the bounds that its server enforced in code
    (REFERENCE: non-empty title, tags and comment body, latency >= 0, incidentNumber >= 1,
    integers that storage holds), nor any length. So every positive case is brought inside
    those rules just before it is sent (`Rules.repair`: a value outside them is replaced by
    one inside, chosen from it, so that generation still varies), and then a positive case
    must be answered 2xx: a 400 is a failure. Incident numbers and start times are learnt from
    every answer, so the stateful scenarios' incidents are known too. Negative cases are sent
    as generated, and must be refused.

    Schema-valid input that is still refused, legitimately:
    - `getIncidentPage`: its `number` is any text up to 32 characters; only the number of an
      existing incident has a page, anything else is the 404 page (declared). So 404 stays an
      accepted answer to positive data there, and only there. (`.` and `..`, which the
      request-target rules refuse with 400, are replaced.)
    - Text with NUL (or an unpaired surrogate), in the strict profile: the refined contract
      refuses it with 400, and the dictionaries send some on purpose (PostgreSQL cannot store
      NUL). Such a positive case must be answered 400, and is judged by every other check. The
      `kener-2.0` profile does not judge NUL: it is taken out of positive data there.
    - The public pages (strict profile), on a target that turns them off
      (`KENER_PUBLIC_PAGES=false`: every one is 404, declared) or hides the `--tags` monitors
      from them: found out before the tests (`GET /` and each tag's dot badge), and 404 is
      then accepted on those operations, which a note in the report says.
    - A target's own limits below this project's (text lengths, body size, the 2 s a search
      may run) would refuse some of the longest generated values with 400.

Generation is also steered towards the success paths, so that the report's 2xx share per
operation means something: monitor tags are often the target's known tags, incident numbers
often those of incidents created for this session, timestamps often minutes the target
accepts (its current minute, as `POST /api/status` reports it, and minutes shortly before),
titles, bodies and searched titles often non-empty texts that match those incidents.

Preconditions: creating the session's incidents is the precondition of the incident
operations' tests (and of the stateful one). If the target cannot create them, those tests
are reported as blocked by that cause, once; the monitor and public operations still run.

Every generated case's answer is counted per operationId ("2xx" or the status code) in the
report's table of generated cases, with a note when generation stopped before
`--max-examples` fuzzing cases and why (the first failing case stops it; an operation with
few distinct inputs has no more; a Hypothesis health check or an unsatisfiable schema). A
failure shows Schemathesis' report of the failing request and answer, with a curl command
reproducing it.
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
from hypothesis.errors import FailedHealthCheck, Unsatisfiable
from schemathesis.core.failures import FailureGroup, as_reported_failure
from schemathesis.core.result import Err
from schemathesis.generation.hypothesis.reporting import ignore_hypothesis_output
from schemathesis.generation.meta import TestPhase
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import positive_data_acceptance

from conformance.config import CHECKS, INCIDENT_OPERATIONS, PROFILES
from conformance.generation import MINUTE, Rules, is_int, is_positive
from conformance.plugin import PRECONDITIONS, SCHEMA_CASES, SCHEMA_NOTES
from conformance.preconditions import INCIDENTS

pytestmark = pytest.mark.group("schema")

# Steps per stateful scenario; the number of scenarios is --kener-max-examples.
STATEFUL_STEPS = 8
# Texts that are no integer, though Python's int() reads one from them: surrounding
# whitespace, `_` digit separators, non-ASCII digits. Integer parameters must be decimal digits
# (a rule of the refined contract), so in the strict profile negative cases send these.
NOT_INTEGERS = [" 1", "1\n", "1_0", "\u0661"]
# The checks about methods a path does not declare: rules of the strict contract only.
METHOD_CHECKS = {"unsupported_method", "allow_header_conformance"}


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


def _public_operation_ids(schema: schemathesis.BaseSchema) -> set[str]:
    """Operations of the public side (tagged `Public`: no credential, HTML, badges, feeds)."""
    return {
        schema.get_operation_id(result.ok()) or result.ok().label
        for result in schema.get_all_operations()
        if not isinstance(result, Err) and "Public" in result.ok().definition.raw.get("tags", [])
    }


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
    only = {group.strip() for group in metafunc.config.getoption("kener_only").split(",")}
    if only - {""} and "schema" not in only:
        # Deselected with the group anyway: not reading the spec saves other groups' runs
        # most of a second.
        for name in ("operation_id", "linked_operations"):
            if name in metafunc.fixturenames:
                metafunc.parametrize(name, [])
        return
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
    started: float  # this machine's monotonic clock then
    marker: str  # a text in the titles of this session's incidents, and nowhere else
    public_pages: bool  # whether the target serves its public pages (strict profile)
    shown_tags: tuple[str, ...]  # the --tags its public pages show

    def now(self) -> float:
        """The target's time, as far as this machine can tell."""
        return self.minute + (time.monotonic() - self.started)


def _json_field(answer: httpx.Response, name: str):
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None


def _success_minute(answer: httpx.Response) -> int | None:
    match = re.fullmatch(r"success at ([0-9]+)", str(_json_field(answer, "message")))
    return int(match.group(1)) if match else None


def _client(target) -> httpx.Client:
    headers = {"Authorization": f"Bearer {target.token}"}
    return httpx.Client(base_url=target.base_url, headers=headers, timeout=30)


@pytest.fixture(scope="session")
def steering(target) -> Steering:
    """Learn the target's current minute from a status update sent without a timestamp, and
    whether (and for which tags) it serves its public pages. Nothing here fails the group: the
    tests of those operations judge their answers."""
    minutes = []
    public_pages, shown = True, list(target.tags)
    public = _public_operation_ids(_plain_schema(target.spec_path))
    with _client(target) as client:
        for tag in target.tags:
            try:
                answer = client.post(
                    "/api/status", json={"status": "UP", "latency": 0.1, "tag": tag}
                )
            except httpx.HTTPError:
                continue
            minutes.append(_success_minute(answer))
        if public:
            try:
                public_pages = client.get("/").status_code != 404
                shown = [
                    tag
                    for tag in target.tags
                    if public_pages and client.get(f"/badge/{tag}/dot").status_code == 200
                ]
            except httpx.HTTPError:
                pass
    known = [minute for minute in minutes if minute is not None]
    # A target that does not say which minute it recorded: a minute ago by this machine's clock.
    minute = min(known) if known else int(time.time()) // MINUTE * MINUTE - MINUTE
    return Steering(
        minute=minute,
        started=time.monotonic(),
        marker=f"conformance-{uuid.uuid4().hex[:12]}",
        public_pages=public_pages,
        shown_tags=tuple(shown),
    )


@pytest.fixture(scope="session")
def rules(target, steering) -> Rules:
    """One for the session: what it learns of the target's incidents serves every test."""
    return Rules(target.tags, steering.shown_tags, steering.now, strict=target.strict)


def _seed_incidents(target, steering: Steering) -> tuple[int, ...]:
    """Create a few incidents with unique titles (one with a comment); their numbers."""
    marker = steering.marker
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
    with _client(target) as client:

        def send(path: str, body: dict) -> httpx.Response:
            answer = client.post(path, json=body)
            assert answer.status_code == 200, (
                f"POST {path} answered {answer.status_code}: {answer.text[:200]!r}"
            )
            return answer

        numbers = []
        for seed in seeds:
            answer = send("/api/incident", seed)
            number = _json_field(answer, "incidentNumber")
            assert is_int(number), f"POST /api/incident answered no incidentNumber: {answer.text!r}"
            numbers.append(number)
        send(f"/api/incident/{numbers[0]}/comment", {"body": f"{marker} investigating"})
    return tuple(numbers)


def _incidents(operation_ids, pytestconfig, target, steering, rules) -> tuple[int, ...]:
    """The session's incidents, created at first need: the precondition of the incident
    operations, whose tests are blocked, with the cause, if they cannot be created. The
    incident pages use them when there are some, and run without (any other text is a
    valid `number` too); other operations need none."""
    preconditions = pytestconfig.stash[PRECONDITIONS]

    def make() -> tuple[int, ...]:
        return _seed_incidents(target, steering)

    if set(operation_ids) & INCIDENT_OPERATIONS:
        incidents = preconditions.run(INCIDENTS, make, keep="the schema group's incidents")
    elif (
        "getIncidentPage" not in operation_ids
        or INCIDENTS in preconditions.absent
        or INCIDENTS in preconditions.causes
    ):
        incidents = ()
    else:
        try:
            incidents = preconditions.run(INCIDENTS, make, keep="the schema group's incidents")
        except pytest.skip.Exception:
            incidents = ()
    rules.seed(incidents)
    return incidents


def _accepts_404(operation_id: str, target, steering: Steering) -> str | None:
    """Why valid data may be answered 404 by this operation, if it may (see the module's
    docstring)."""
    if operation_id == "getIncidentPage":
        # Any text up to 32 characters is a valid `number`, and only the number of an
        # existing incident has a page: the page for anything else is 404 (declared).
        return "any text but a known incident's number is the 404 page"
    if operation_id not in _public_operation_ids(_plain_schema(target.spec_path)):
        return None
    if not steering.public_pages:
        return "the target answers GET / with 404: its public pages are off"
    if not steering.shown_tags and operation_id in {"getMonitorEmbed", "getUptimeBadge"}:
        return "the target's public pages show none of the --tags monitors"
    return None


def _config(
    target, steering: Steering, incidents: tuple[int, ...], accept_404: bool
) -> schemathesis.Config:
    checks: dict = {
        "enabled": False,
        **{
            name: {"enabled": True} for name in CHECKS if target.strict or name not in METHOD_CHECKS
        },
    }
    # Positive data is brought inside the contract's rules before it is sent (`Rules`), so it
    # must be accepted; 404 only where it may answer valid data (`_accepts_404`). 401 and 403
    # are not accepted either: every request carries the right token (except ignored_auth's
    # own probes, which this check does not judge). 304 is the contract's answer to a valid
    # `If-None-Match` naming the current answer (`*` included) on the public operations that
    # declare it; the kener-2.0 spec has no such parameter, so no case there sends one.
    accepted = ["2xx", "304"]
    checks["positive_data_acceptance"] = {
        "enabled": True,
        "expected-statuses": [*accepted, "404"] if accept_404 else accepted,
    }
    minute, marker = steering.minute, steering.marker
    tags = list(target.tags)
    not_integers = NOT_INTEGERS if target.strict else []
    # NUL is no text the strict contract allows (400, judged as such); in kener-2.0 it is
    # not judged.
    nul = ["a\x00b"] if target.strict else []
    dictionaries = {
        "tags": {"values": tags},
        # The public paths' tag: a monitor's, or `_` (all of them, on status badges).
        "path_tags": {"values": [*(steering.shown_tags or tags), "_"]},
        "tag_lists": {"values": [*tags, ",".join(tags), ", ".join(reversed(tags))]},
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
    }
    parameters = {
        "query.tag": {"dictionary": "tags", "probability": 0.8},
        "query.tags": {"dictionary": "tag_lists", "probability": 0.6},
        "path.tag": {"dictionary": "path_tags", "probability": 0.8},
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
    }
    if incidents:
        dictionaries["incidents"] = {"values": [*incidents, *not_integers]}
        dictionaries["incident_texts"] = {"values": [str(n) for n in incidents]}
        parameters["path.incidentNumber"] = {"dictionary": "incidents", "probability": 0.8}
        parameters["path.number"] = {"dictionary": "incident_texts", "probability": 0.8}
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
            "dictionaries": dictionaries,
            "parameters": parameters,
        }
    )


@cache
def _schema(
    target, steering: Steering, incidents: tuple[int, ...], accept_404: bool = False
) -> schemathesis.BaseSchema:
    """The profile's spec, with the target's token and the steering dictionaries."""
    return schemathesis.openapi.from_path(
        target.spec_path, config=_config(target, steering, incidents, accept_404)
    )


# --- Tests -----------------------------------------------------------------------------------


def _answer_class(status_code: int) -> str:
    return "2xx" if 200 <= status_code < 300 else str(status_code)


def _operation_id(schema: schemathesis.BaseSchema, operation: schemathesis.APIOperation) -> str:
    return schema.get_operation_id(operation) or operation.label


def _refused_as_the_contract_says(refusal: str, response) -> None:
    """A positive case the contract refuses (text with NUL) must be answered 400."""
    __tracebackhide__ = True
    assert response.status_code == 400, (
        f"{refusal}: the contract refuses such text with 400, got {response.status_code}: "
        f"{response.text[:300]!r}"
    )


def test_operation(operation_id, target, steering, rules, pytestconfig):
    """Examples, coverage and fuzzing phases of one operation; every answer passes the checks."""
    incidents = _incidents([operation_id], pytestconfig, target, steering, rules)
    why_404 = _accepts_404(operation_id, target, steering)
    schema = _schema(target, steering, incidents, accept_404=why_404 is not None)
    answers: Counter = pytestconfig.stash[SCHEMA_CASES][operation_id]
    phases: Counter = Counter()
    base_url = target.base_url

    def check(case):
        refusal = rules.repair(case) if is_positive(case) else None
        response = case.call(base_url=base_url)
        answers[_answer_class(response.status_code)] += 1
        phases[case.meta.phase.name if case.meta else None] += 1
        rules.record(response)
        excluded = [positive_data_acceptance] if refusal else []
        case.validate_response(
            response, excluded_checks=excluded, transport_kwargs={"base_url": base_url}
        )
        if refusal:
            _refused_as_the_contract_says(refusal, response)

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
    notes = []
    if why_404 and operation_id != "getIncidentPage":  # getIncidentPage's is the contract's
        notes.append(f"404 accepted for valid data: {why_404}")
    try:
        _run(hypothesis_test)
    except BaseException as error:
        notes.append(_why_stopped(error, sum(answers.values())))
        raise
    else:
        fuzzed = phases[TestPhase.FUZZING]
        if fuzzed < target.max_examples:
            notes.append(
                f"{fuzzed} fuzzing case{'s' * (fuzzed != 1)}, not --max-examples "
                f"{target.max_examples}: Hypothesis found no more distinct inputs for this "
                "operation"
            )
    finally:
        if notes:
            pytestconfig.stash[SCHEMA_NOTES][operation_id] = "; ".join(notes)


def _why_stopped(error: BaseException, sent: int) -> str:
    """Why generation stopped early, in a line for the report."""
    if isinstance(error, AssertionError | FailureGroup):
        return (
            f"stopped at its first failure ({sent} cases sent, shrinking included): "
            "Hypothesis ends an operation's run when a case fails"
        )
    if isinstance(error, FailedHealthCheck):
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"a Hypothesis health check failed after {sent} cases: {first[:200]}"
    if isinstance(error, Unsatisfiable):
        return f"Hypothesis could not satisfy the schema after {sent} cases: {error}"[:300]
    return f"stopped by {error.__class__.__name__} after {sent} cases: {error}"[:300]


def test_stateful_links(linked_operations, target, steering, rules, pytestconfig):
    """Scenarios along the spec's `links`, each call judged by the same checks."""
    incidents = _incidents(linked_operations, pytestconfig, target, steering, rules)
    schema = _schema(target, steering, incidents)
    cases = pytestconfig.stash[SCHEMA_CASES]
    base_url = target.base_url
    refusals: dict[str, str | None] = {}

    class Links(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": base_url}

        def before_call(self, case):
            super().before_call(case)
            refusals[case.id] = rules.repair(case) if is_positive(case) else None

        def after_call(self, response, case):
            super().after_call(response, case)
            rules.record(response)
            operation_id = _operation_id(schema, case.operation)
            cases[operation_id][_answer_class(response.status_code)] += 1

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            __tracebackhide__ = True
            refusal = refusals.pop(case.id, None)
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=[positive_data_acceptance] if refusal else None,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )
            if refusal:
                _refused_as_the_contract_says(refusal, response)

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
