"""Property-based conformance of the live server, with Schemathesis.

Every operation of the contract is exercised over HTTP against the server as `kener-api serve`
runs it (waitress, the `live_server` fixture), on SQLite and on PostgreSQL, twice:

- against this project's `openapi.yaml`, and
- against the original Kener 2.0.0 spec (`conformance/specs/kener-2.0.0-openapi.yaml`),
  which the server must still honour: `openapi.yaml` is only a compatible refinement of it,
  so a client generated from the original must see nothing its spec does not allow.

Schemathesis runs its examples, coverage and fuzzing phases per operation, with positive and
negative data, and a stateful run follows the `links` of `openapi.yaml` (create an incident,
then read, replace, comment on and resolve it). Any check failure fails the test.

Positive data must be accepted (2xx). What no schema can say (known tags and incidents, the
90-day window before the clock, `endDatetime` after `startDatetime`, the original spec's
missing bounds, ...) is brought inside the contract just before each case is sent, by the
conformance suite's `Rules` (conformance/generation.py; the docstring of
conformance/suite/test_schema.py lists the valid input still refused): the one accepted 404
is an incident page for a text that names no incident, and text with NUL must be answered 400.

Generation is steered towards the success paths: about half of the time, monitor tags
are the known ones (`earth`, `google`), incident numbers name incidents seeded before the run,
and timestamps fall in the accepted window before the fixed test clock. Some text fields also
get strings that are known to trip up databases (NUL, LIKE wildcards, non-ASCII), and integer
parameters texts that only look like integers.

The Schemathesis tests run on both databases (the `database_url` parameters of conftest.py):
that doubles the time, to about a minute for the module, and PostgreSQL rejects values that
SQLite stores.

Schemas are loaded when the module is collected (the eager `schemathesis.pytest.parametrize`),
not from a fixture: `schemathesis.pytest.from_fixture` (4.32.5) reads `request.node._nodeid`,
which pytest 9.2 no longer has. The live server's URL is passed to each call instead.
"""

import dataclasses
import os
from pathlib import Path

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.specs.openapi.checks import positive_data_acceptance

from conformance.config import CHECKS
from conformance.generation import Rules
from tests.conftest import START, TOKEN

OUR_SPEC = Path(__file__).resolve().parents[1] / "openapi.yaml"
ORIGINAL_SPEC = Path(__file__).resolve().parents[1] / "conformance/specs/kener-2.0.0-openapi.yaml"

# Fuzzing examples per operation (and stateful scenarios). With these the whole module,
# 2 specs x 2 databases x 7 operations plus the stateful runs, takes about a minute.
# `tox -e stress` raises them (KENER_FUZZ_EXAMPLES) for a long run.
MAX_EXAMPLES = int(os.environ.get("KENER_FUZZ_EXAMPLES", "40"))
STATEFUL_SCENARIOS = max(20, MAX_EXAMPLES // 2)
STATEFUL_STEPS = 8

KNOWN_TAGS = ["earth", "google"]
# Created by `seeded_server` in every test's fresh database. Five, so that the incident number
# the spec's examples use (4) exists too.
SEEDED_INCIDENTS = [
    {"title": "Outage in mumbai", "tags": ["earth"]},
    {"title": "Planned maintenance", "tags": ["google"], "isMaintenance": True, "isResolved": True},
    {"title": "Both down", "tags": ["earth", "google"], "impact": "DOWN"},
    {"title": "Degraded", "tags": ["google"], "impact": "DEGRADED", "isIdentified": True},
    {"title": "title of the incident", "tags": ["earth", "google"], "body": "body"},
]

# Texts that are no integer, though Python's int() reads one from them: surrounding
# whitespace, `_` digit separators ("1_0" is 10), non-ASCII digits (ARABIC-INDIC DIGIT ONE).
# A dictionary entry is drawn only in the generation mode it fits: these strings in negative
# cases (the server must answer 400), the integers beside them in positive ones.
NOT_INTEGERS = [" 1", "1\n", "1_0", "\u0661"]


def _config() -> schemathesis.Config:
    checks: dict = {"enabled": False, **{name: {"enabled": True} for name in CHECKS}}
    # Positive data is brought inside the contract's rules before it is sent (`Rules`), so it
    # must be accepted. 401 and 403 are not accepted either: every request carries the right
    # token (except ignored_auth's own probes, which this check does not judge). 304 is the
    # right answer to a valid `If-None-Match` naming the current answer, `*` included.
    checks["positive_data_acceptance"] = {"enabled": True, "expected-statuses": ["2xx", "304"]}
    return schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"bearerAuth": {"bearer": TOKEN}}},
            "checks": checks,
            "operations": [
                # `/incident/{number}`: any text up to 32 characters is a valid `number`, and
                # only an existing incident's number has a page: the page for anything else
                # is 404 (declared).
                {
                    "include-operation-id": "getIncidentPage",
                    "checks": {
                        "positive_data_acceptance": {"expected-statuses": ["2xx", "304", "404"]}
                    },
                }
            ],
            # No example database: each run draws afresh instead of replaying earlier failures
            # from .hypothesis/ (a failure's report carries a curl command to reproduce it).
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": STATEFUL_STEPS},
            },
            "dictionaries": {
                "tags": {"values": KNOWN_TAGS},
                "tag_lists": {"values": ["earth", "google", "earth,google", "google, earth"]},
                "incidents": {"values": [*range(1, len(SEEDED_INCIDENTS) + 1), *NOT_INTEGERS]},
                "path_tags": {"values": ["earth", "google", "_"]},
                "incident_texts": {"values": [str(n) for n in range(1, len(SEEDED_INCIDENTS) + 1)]},
                "counts": {"values": [1, 2, 10, 100, *NOT_INTEGERS]},
                # Minutes the server accepts: the test clock stands still at START.
                "timestamps": {"values": [START, START - 59, START - 3600, START - 89 * 86_400]},
                "times": {"values": [START - 86_400, START, *NOT_INTEGERS]},
                # NUL: PostgreSQL text cannot hold it, SQLite stops LIKE patterns at it.
                # `%`, `_`, `\`: LIKE wildcards and escape. Case folding beyond ASCII.
                "texts": {
                    "values": ["\x00", "a\x00b", "%", "_", "\\", "'--", "İSTANBUL", "ß", "🙂"]
                },
            },
            "parameters": {
                "query.tag": {"dictionary": "tags", "probability": 0.5},
                "query.tags": {"dictionary": "tag_lists", "probability": 0.5},
                "path.incidentNumber": {"dictionary": "incidents", "probability": 0.6},
                "path.tag": {"dictionary": "path_tags", "probability": 0.6},
                "path.number": {"dictionary": "incident_texts", "probability": 0.6},
                "query.page": {"dictionary": "counts", "probability": 0.3},
                "query.per_page": {"dictionary": "counts", "probability": 0.3},
                "query.created_after_utc": {"dictionary": "times", "probability": 0.3},
                "query.created_before_utc": {"dictionary": "times", "probability": 0.3},
                "body.tag": {"dictionary": "tags", "probability": 0.5},
                "body.tags[*]": {"dictionary": "tags", "probability": 0.7},
                "body.timestampInSeconds": {"dictionary": "timestamps", "probability": 0.5},
                "body.title": {"dictionary": "texts", "probability": 0.15},
                "body.body": {"dictionary": "texts", "probability": 0.15},
                "query.title_like": {"dictionary": "texts", "probability": 0.2},
            },
        }
    )


SCHEMAS = {
    "openapi": schemathesis.openapi.from_path(OUR_SPEC, config=_config()),
    "original": schemathesis.openapi.from_path(ORIGINAL_SPEC, config=_config()),
}


@pytest.fixture
def settings(settings):
    # ignored_auth probes every accepted case with wrong credentials: hundreds a minute, past
    # which the server would refuse the right token too (conformance/local.py raises it too).
    return dataclasses.replace(settings, auth_failures_per_minute=10**6)


@pytest.fixture
def seeded_server(live_server):
    """The live server with a few incidents, a comment and data points."""
    with httpx.Client(
        base_url=live_server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as client:
        for number, incident in enumerate(SEEDED_INCIDENTS, start=1):
            answer = client.post("/api/incident", json=incident)
            assert answer.status_code == 200, answer.text
            assert answer.json()["incidentNumber"] == number
        answer = client.post("/api/incident/1/comment", json={"body": "investigating"})
        assert answer.status_code == 200, answer.text
        for tag, status, age in (("earth", "UP", 120), ("earth", "DOWN", 60), ("google", "UP", 0)):
            point = {
                "tag": tag,
                "status": status,
                "latency": 0.2,
                "timestampInSeconds": START - age,
            }
            answer = client.post("/api/status", json=point)
            assert answer.status_code == 200, answer.text
    return live_server


@pytest.fixture
def rules(seeded_server) -> Rules:
    """The contract's rules beyond the schemas, for the seeded server: its monitors, its
    clock standing still at START, its incidents (learnt from answers as they come)."""
    return Rules(
        KNOWN_TAGS,
        KNOWN_TAGS,
        now=lambda: START,
        strict=True,
        incidents=range(1, len(SEEDED_INCIDENTS) + 1),
    )


def call_and_validate(case, url: str, rules: Rules) -> None:
    """Send the case (a positive one inside the rules first) and judge the answer. The one
    positive case still refused, text with NUL, must be answered 400."""
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    refusal = rules.repair(case) if positive else None
    response = case.call(base_url=url)
    rules.record(response)
    excluded = [positive_data_acceptance] if refusal else []
    case.validate_response(response, excluded_checks=excluded, transport_kwargs={"base_url": url})
    assert refusal is None or response.status_code == 400, (refusal, response.status_code)


# Hypothesis warns about function-scoped fixtures with @given because they are not reset
# between examples. That is intended here: one server and database per operation, shared by
# its examples, like a real server (so later examples also see what earlier ones created).
@schemathesis.pytest.parametrize(**SCHEMAS)
@hypothesis.settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_conformance(case, seeded_server, rules):
    call_and_validate(case, seeded_server.url, rules)


def test_stateful_links(seeded_server, rules):
    """Scenarios along the `links` of openapi.yaml: createIncident, then getIncident,
    updateIncident, addIncidentComment, getIncidentComments, updateIncidentStatus on the
    incident just created (the original spec has no links)."""
    schema = SCHEMAS["openapi"]
    base_url = seeded_server.url
    refusals: dict[str, str | None] = {}

    class Links(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return {"base_url": base_url}

        def before_call(self, case):
            super().before_call(case)
            positive = case.meta is not None and case.meta.generation.mode.is_positive
            refusals[case.id] = rules.repair(case) if positive else None

        def after_call(self, response, case):
            super().after_call(response, case)
            rules.record(response)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            refusal = refusals.pop(case.id, None)
            case.validate_response(
                response,
                additional_checks=additional_checks,
                excluded_checks=[positive_data_acceptance] if refusal else None,
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )
            assert refusal is None or response.status_code == 400, (refusal, response.status_code)

    Links.run(
        settings=hypothesis.settings(
            schema.config.get_hypothesis_settings(phase="stateful"),
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            # As Schemathesis' own stateful runs: HTTP calls make health checks meaningless.
            suppress_health_check=list(HealthCheck),
        )
    )
