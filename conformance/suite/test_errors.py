"""Errors: bad input is answered 400 with `application/json` `{"error": "<message>"}`, never a
5xx; requests outside the operations are answered 404 or 405 in the same shape.

Both profiles: a missing or empty body, malformed JSON, invalid UTF-8, a body that is no JSON
object, a field of the wrong type, a missing required field or parameter, a value outside the
set or range Kener 2.0's spec declares (`state`, `status`, `impact`, `page` >= 1,
`per_page` <= 100), an unknown monitor tag; and no bad input at all causes a 5xx. An unknown
incident must be a 4xx JSON error (Kener's GET answered 404, which its spec does not declare).

`strict` profile only (rules of the refined contract): a content type other than JSON; the
refined ranges (`per_page` >= 1, `latency` >= 0, non-empty `title`, `tags` and comment `body`,
integer bounds); unknown and invalid incident numbers as 400; unknown query parameters; text
with NUL or an unpaired surrogate; error messages that name what was wrong; JSON 404 for an
unknown path, JSON 405 with a complete `Allow` header for a wrong method, HEAD as 405.

Each answer is judged by the rule first (expected status, `application/json`, the body
shape), so that a failure says what was expected; then, where the status is one the profile's
OpenAPI document declares, against that document. Bad requests are sent to a real incident of
this module (created once, resolved), so that a 400 is about the input, not a missing incident.
"""

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import yaml

from conformance.suite.checks import OPERATIONS, WRITES, assert_json_error

pytestmark = pytest.mark.group("errors")

INCIDENT_OPERATIONS = [operation for operation in OPERATIONS if "{n}" in OPERATIONS[operation][1]]
UNKNOWN_INCIDENT = 9_000_000_000_000_000_000  # a valid int64 no incident will ever have
NOTHING = object()


@dataclass(frozen=True)
class Context:
    """What a case needs to know about the target at run time."""

    tag: str
    unknown_tag: str
    incident: object  # conftest.SharedIncident: created at first use, by the cases that need it
    title: str

    @property
    def number(self) -> int:
        """An existing incident's number."""
        return self.incident.number

    def valid(self, operation: str) -> dict:
        return {
            "updateMonitorStatus": {"status": "UP", "latency": 10, "tag": self.tag},
            "createIncident": {"title": self.title, "tags": [self.tag], "isResolved": True},
            "updateIncident": {"title": self.title, "tags": [self.tag], "isResolved": True},
            "addIncidentComment": {"body": "conformance: errors"},
            "updateIncidentStatus": {"isIdentified": True},
        }[operation]

    def valid_query(self, operation: str) -> dict:
        return {"getMonitorStatus": {"tag": self.tag}}.get(operation, {})


@dataclass(frozen=True)
class Bad:
    """One bad request: `body` is bytes, a JSON value, or a function of the Context giving one;
    `query` a dict (or function giving one) or a raw query string; `names` is what a strict
    error message must mention."""

    operation: str
    what: str
    body: object = NOTHING
    content_type: str | None = "application/json"
    query: object = None
    path: str | None = None
    names: Callable[["Context"], str] | str | None = None

    def send(self, api, context: Context):
        method, path = OPERATIONS[self.operation]
        path = self.path or path
        if "{n}" in path:
            path = path.format(n=context.number)
        body = self.body(context) if callable(self.body) else self.body
        headers = {}
        if body is NOTHING:
            content = None
        elif isinstance(body, bytes):
            content = body
        else:
            content = json.dumps(body).encode()
        if content is not None and self.content_type:
            headers["Content-Type"] = self.content_type
        query = self.query(context) if callable(self.query) else self.query
        if isinstance(query, str):
            path, params = f"{path}?{query}", None
        else:
            params = query if query is not None else context.valid_query(self.operation)
        return api.request(
            method, path, content=content, params=params, headers=headers, validate=False
        )

    def describe(self) -> str:
        return f"{self.operation} with {self.what}"

    def named(self, context: Context) -> str | None:
        return self.names(context) if callable(self.names) else self.names


def with_field(operation: str, name: str, value) -> Callable[[Context], dict]:
    return lambda context: {**context.valid(operation), name: value}


def without(operation: str, name: str) -> Callable[[Context], dict]:
    return lambda context: {
        key: value for key, value in context.valid(operation).items() if key != name
    }


def wrong_type(operation: str, name: str, value) -> Bad:
    return Bad(operation, f"{name}: {value!r}", body=with_field(operation, name, value), names=name)


WRONG_TYPES = [
    wrong_type("updateMonitorStatus", "status", 1),
    wrong_type("updateMonitorStatus", "latency", "fast"),
    wrong_type("updateMonitorStatus", "latency", [10]),
    wrong_type("updateMonitorStatus", "tag", 5),
    wrong_type("updateMonitorStatus", "timestampInSeconds", "soon"),
    wrong_type("createIncident", "title", 5),
    wrong_type("createIncident", "tags", "earth"),
    wrong_type("createIncident", "tags", [5]),
    wrong_type("createIncident", "body", 5),
    wrong_type("createIncident", "isMaintenance", "no"),
    wrong_type("createIncident", "startDatetime", "now"),
    wrong_type("updateIncident", "title", ["title"]),
    wrong_type("updateIncident", "tags", {"earth": True}),
    wrong_type("updateIncident", "isResolved", "yes"),
    wrong_type("updateIncident", "endDatetime", "later"),
    wrong_type("addIncidentComment", "body", 5),
    wrong_type("addIncidentComment", "body", ["comment"]),
    wrong_type("updateIncidentStatus", "isResolved", "yes"),
    wrong_type("updateIncidentStatus", "isIdentified", 1),
    wrong_type("updateIncidentStatus", "endDatetime", "later"),
    # Numbers and booleans written as strings (Kener 2.0.0 stored "latency": "100" as text),
    # booleans where numbers belong (JSON true is no number), empty strings, arrays.
    wrong_type("updateMonitorStatus", "latency", "100"),
    wrong_type("updateMonitorStatus", "latency", ""),
    wrong_type("updateMonitorStatus", "latency", True),
    wrong_type("updateMonitorStatus", "status", ["UP"]),
    wrong_type("updateMonitorStatus", "tag", ["earth"]),
    Bad(
        "updateMonitorStatus",
        "timestampInSeconds as a string of an hour ago",
        body=lambda c: {
            **c.valid("updateMonitorStatus"),
            "timestampInSeconds": str(int(time.time()) // 60 * 60 - 3600),
        },
        names="timestampInSeconds",
    ),
    wrong_type("updateMonitorStatus", "timestampInSeconds", ""),
    wrong_type("updateMonitorStatus", "timestampInSeconds", False),
    wrong_type("createIncident", "isMaintenance", "true"),
    wrong_type("createIncident", "isIdentified", 0),
    wrong_type("createIncident", "startDatetime", "1700000000"),
    wrong_type("createIncident", "endDatetime", True),
    wrong_type("createIncident", "impact", ["DOWN"]),
    wrong_type("updateIncident", "isMaintenance", "false"),
    wrong_type("updateIncident", "startDatetime", ""),
    wrong_type("addIncidentComment", "body", True),
    wrong_type("updateIncidentStatus", "isResolved", "true"),
    wrong_type("updateIncidentStatus", "isIdentified", [True]),
    wrong_type("updateIncidentStatus", "endDatetime", "1700000000"),
]

MISSING_FIELDS = [
    Bad(operation, f"no {name}", body=without(operation, name), names=name)
    for operation, name in (
        ("updateMonitorStatus", "status"),
        ("updateMonitorStatus", "latency"),
        ("updateMonitorStatus", "tag"),
        ("createIncident", "title"),
        ("createIncident", "tags"),
        ("updateIncident", "title"),
        ("updateIncident", "tags"),
        ("addIncidentComment", "body"),
    )
] + [Bad("getMonitorStatus", "no tag query parameter", query={}, names="tag")]

# Outside what Kener 2.0's own spec declares.
OUT_OF_KENER_RANGE = [
    Bad(
        "updateMonitorStatus",
        "status 'SLEEPING'",
        body=with_field("updateMonitorStatus", "status", "SLEEPING"),
        names="status",
    ),
    Bad(
        "createIncident",
        "impact 'SEVERE'",
        body=with_field("createIncident", "impact", "SEVERE"),
        names="impact",
    ),
    Bad("searchIncidents", "state=bogus", query={"state": "bogus"}, names="state"),
    Bad("searchIncidents", "page=0", query={"page": 0}, names="page"),
    Bad("searchIncidents", "per_page=101", query={"per_page": 101}, names="per_page"),
]

# Outside the refined contract's ranges (strict).
OUT_OF_REFINED_RANGE = [
    Bad("searchIncidents", "per_page=0", query={"per_page": 0}, names="per_page"),
    Bad("searchIncidents", "per_page=-1", query={"per_page": -1}, names="per_page"),
    Bad("searchIncidents", "page=2**31", query={"page": 2**31}, names="page"),
    Bad(
        "searchIncidents",
        "created_after_utc=-1",
        query={"created_after_utc": -1},
        names="created_after_utc",
    ),
    Bad(
        "searchIncidents",
        "created_before_utc=2**63",
        query={"created_before_utc": 2**63},
        names="created_before_utc",
    ),
    Bad(
        "updateMonitorStatus",
        "latency -1",
        body=with_field("updateMonitorStatus", "latency", -1),
        names="latency",
    ),
    Bad(
        "updateMonitorStatus",
        "timestampInSeconds 2**63",
        body=with_field("updateMonitorStatus", "timestampInSeconds", 2**63),
        names="timestampInSeconds",
    ),
    Bad(
        "createIncident",
        "an empty title",
        body=with_field("createIncident", "title", ""),
        names="title",
    ),
    Bad(
        "createIncident", "empty tags", body=with_field("createIncident", "tags", []), names="tags"
    ),
    Bad(
        "createIncident",
        "startDatetime -1",
        body=with_field("createIncident", "startDatetime", -1),
        names="startDatetime",
    ),
    Bad(
        "updateIncident",
        "an empty title",
        body=with_field("updateIncident", "title", ""),
        names="title",
    ),
    Bad("addIncidentComment", "an empty body", body={"body": ""}, names="body"),
    Bad(
        "getIncident", "incidentNumber 2**63", path=f"/api/incident/{2**63}", names="incidentNumber"
    ),
]

UNKNOWN_TAGS = [
    Bad(
        "updateMonitorStatus",
        "an unknown tag",
        body=lambda c: {**c.valid("updateMonitorStatus"), "tag": c.unknown_tag},
        names=lambda c: c.unknown_tag,
    ),
    Bad(
        "getMonitorStatus",
        "an unknown tag",
        query=lambda c: {"tag": c.unknown_tag},
        names=lambda c: c.unknown_tag,
    ),
    Bad(
        "createIncident",
        "an unknown tag",
        body=lambda c: {**c.valid("createIncident"), "tags": [c.tag, c.unknown_tag]},
        names=lambda c: c.unknown_tag,
    ),
    Bad(
        "updateIncident",
        "an unknown tag",
        body=lambda c: {**c.valid("updateIncident"), "tags": [c.unknown_tag]},
        names=lambda c: c.unknown_tag,
    ),
    Bad(
        "searchIncidents",
        "an unknown tag",
        query=lambda c: {"tags": f"{c.tag},{c.unknown_tag}"},
        names=lambda c: c.unknown_tag,
    ),
]


def body_classes(operation: str) -> dict[str, list[Bad]]:
    """The bad bodies of a write operation, by class."""

    def raw(what, body, content_type="application/json"):
        return Bad(operation, what, body=body, content_type=content_type)

    def invalid_utf8_field(context):
        text = json.dumps(context.valid(operation))
        return text.replace('"', '"\xff', 1).encode("latin-1")  # \xff before the first key

    return {
        "missing": [raw("no body at all", NOTHING, None), raw("an empty body", b"")],
        "malformed": [
            raw("truncated JSON", b'{"status": '),
            raw("single-quoted JSON", b"{'title': 'x'}"),
            raw("a trailing comma", b'{"body": "x",}'),
            raw("whitespace only", b"   "),
        ],
        "utf8": [
            raw("invalid UTF-8 bytes", b"\xff\xfe{}"),
            raw("invalid UTF-8 inside a JSON string", invalid_utf8_field),
        ],
        "not an object": [
            raw(f"the JSON body {value}", value.encode())
            for value in ("[]", '"text"', "null", "42")
        ],
        "content type": [
            raw(f"valid JSON sent as {content_type}", lambda c: c.valid(operation), content_type)
            for content_type in ("text/plain", "application/x-www-form-urlencoded")
        ],
    }


# ---------------------------------------------------------------------------------------------


@pytest.fixture
def context(target, shared_incident) -> Context:
    """The target's first tag, a tag it does not know, and the run's shared incident (created
    only when a case needs one: a target without incidents still has its other errors judged)."""
    unknown = f"no-such-monitor-{uuid.uuid4().hex[:8]}"
    title = f"conformance-errors-{uuid.uuid4().hex[:12]}"
    return Context(target.tags[0], unknown, shared_incident, title)


def rejected(api, context: Context, bad: Bad, statuses=(400,)) -> str:
    answer = bad.send(api, context)
    message = assert_json_error(answer, statuses, bad.describe())
    api.validator.check(api.exchanges[-1])
    return message


def each(operations):
    return [
        pytest.param(operation, marks=pytest.mark.operation(operation), id=operation)
        for operation in operations
    ]


def cases(bads: list[Bad]):
    return [
        pytest.param(bad, marks=pytest.mark.operation(bad.operation), id=bad.describe())
        for bad in bads
    ]


# Both profiles --------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", each(WRITES))
def test_missing_or_empty_body_is_400(api, context, operation):
    for bad in body_classes(operation)["missing"]:
        rejected(api, context, bad)


@pytest.mark.parametrize("operation", each(WRITES))
def test_malformed_json_is_400(api, context, operation):
    for bad in body_classes(operation)["malformed"]:
        rejected(api, context, bad)


@pytest.mark.parametrize("operation", each(WRITES))
def test_invalid_utf8_is_400(api, context, operation):
    for bad in body_classes(operation)["utf8"]:
        rejected(api, context, bad)


@pytest.mark.parametrize("operation", each(WRITES))
def test_body_that_is_not_a_json_object_is_400(api, context, operation):
    for bad in body_classes(operation)["not an object"]:
        rejected(api, context, bad)


@pytest.mark.parametrize("bad", cases(WRONG_TYPES))
def test_field_of_the_wrong_type_is_400(api, context, bad):
    rejected(api, context, bad)


@pytest.mark.parametrize("bad", cases(MISSING_FIELDS))
def test_missing_required_field_or_parameter_is_400(api, context, bad):
    rejected(api, context, bad)


@pytest.mark.parametrize("bad", cases(OUT_OF_KENER_RANGE))
def test_value_outside_the_declared_set_or_range_is_400(api, context, bad):
    rejected(api, context, bad)


@pytest.mark.parametrize("bad", cases(UNKNOWN_TAGS))
def test_unknown_tag_is_400(api, context, target, bad):
    if bad.operation == "searchIncidents" and not target.strict:
        pytest.skip(
            "kener-2.0 promises nothing here: Kener 2.0.0 searched GitHub labels, and an "
            "unknown one found nothing"
        )
    rejected(api, context, bad)


@pytest.mark.parametrize("operation", each(INCIDENT_OPERATIONS))
def test_unknown_incident_is_a_client_error(api, context, target, operation):
    # Kener's GET answered 404, which its spec does not declare: any 4xx passes here.
    if operation == "getIncidentComments" and not target.strict:
        pytest.skip(
            "kener-2.0 promises nothing here: Kener 2.0.0 answered 200 [] (GitHub's 404 "
            "for an unknown issue's comments was swallowed)"
        )
    bad = unknown_incident(operation, UNKNOWN_INCIDENT)
    assert_json_error(bad.send(api, context), tuple(range(400, 500)), bad.describe())


def unknown_incident(operation: str, number) -> Bad:
    body = (lambda context: context.valid(operation)) if operation in WRITES else NOTHING
    path = OPERATIONS[operation][1].replace("{n}", str(number))
    return Bad(operation, f"incident number {number}", body=body, path=path, names=str(number))


def every_bad_input() -> list[Bad]:
    everything = [
        *WRONG_TYPES,
        *MISSING_FIELDS,
        *OUT_OF_KENER_RANGE,
        *OUT_OF_REFINED_RANGE,
        *UNKNOWN_TAGS,
        *NUL_AND_SURROGATES,
        *[unknown_incident(operation, UNKNOWN_INCIDENT) for operation in INCIDENT_OPERATIONS],
        *[unknown_incident(operation, "abc") for operation in INCIDENT_OPERATIONS],
        *[unknown_query_parameter(operation) for operation in OPERATIONS],
    ]
    for operation in WRITES:
        everything += [bad for bads in body_classes(operation).values() for bad in bads]
    return everything


@pytest.mark.parametrize("operation", each(OPERATIONS))
def test_bad_input_never_causes_a_server_error(api, context, operation):
    # Every bad input of this module, the strict profile's included: a target may accept some
    # of them under the kener-2.0 profile, but none may cause a 5xx.
    for bad in every_bad_input():
        if bad.operation != operation:
            continue
        answer = bad.send(api, context)
        assert answer.status_code < 500, (
            f"{bad.describe()}: bad input must be answered 4xx (or accepted), never "
            f"{answer.status_code}: {answer.text[:300]!r}"
        )
        if answer.status_code >= 400:
            assert_json_error(answer, (answer.status_code,), bad.describe())


# Strict profile --------------------------------------------------------------------------------


@pytest.mark.parametrize("operation", each(WRITES))
def test_content_type_other_than_json_is_400(api, context, operation):
    for bad in body_classes(operation)["content type"]:
        rejected(api, context, bad)


@pytest.mark.parametrize("bad", cases(OUT_OF_REFINED_RANGE))
def test_value_outside_the_refined_range_is_400(api, context, bad):
    rejected(api, context, bad)


@pytest.mark.parametrize("operation", each(INCIDENT_OPERATIONS))
def test_unknown_or_invalid_incident_number_is_400(api, context, operation):
    for number in (UNKNOWN_INCIDENT, 0, -1, "abc", "1.5"):
        rejected(api, context, unknown_incident(operation, number))


def unknown_query_parameter(operation: str) -> Bad:
    body = (lambda context: context.valid(operation)) if operation in WRITES else NOTHING
    return Bad(
        operation,
        "an unknown query parameter",
        body=body,
        query=lambda context: {**context.valid_query(operation), "conformance_extra": "1"},
        names="conformance_extra",
    )


@pytest.mark.parametrize("operation", each(OPERATIONS))
def test_unknown_query_parameter_is_400(api, context, operation):
    rejected(api, context, unknown_query_parameter(operation))


NUL_AND_SURROGATES = [
    Bad(
        "createIncident",
        "NUL in the title",
        body=lambda c: {"title": "a\x00b", "tags": [c.tag]},
    ),
    Bad("addIncidentComment", "NUL in the body", body=rb'{"body": "\u0000"}'),
    Bad("addIncidentComment", "an unpaired surrogate", body=rb'{"body": "a\ud800"}'),
    Bad(
        "updateIncident",
        "an unpaired surrogate",
        body=lambda c: b'{"title": "\\udc00", "tags": ["%s"]}' % c.tag.encode(),
    ),
    Bad("searchIncidents", "NUL in title_like", query="title_like=%00"),
    Bad("getMonitorStatus", "NUL in tag", query=lambda c: {"tag": f"{c.tag}\x00"}),
]


@pytest.mark.parametrize("bad", cases(NUL_AND_SURROGATES))
def test_text_with_nul_or_an_unpaired_surrogate_is_400(api, context, bad):
    rejected(api, context, bad)


@pytest.mark.operation("searchIncidents")
def test_unpaired_surrogate_in_a_query_parameter_is_400(api, context):
    # The only way to send U+D800 in a URL is its UTF-8-style encoding, which is no valid UTF-8:
    # it must not be searched for as some replacement text.
    bad = Bad("searchIncidents", "U+D800 in title_like", query="title_like=a%ED%A0%80")
    rejected(api, context, bad)


MESSAGES = [
    *UNKNOWN_TAGS,
    wrong_type("updateMonitorStatus", "latency", "fast"),
    wrong_type("createIncident", "title", 5),
    wrong_type("updateIncidentStatus", "isResolved", "yes"),
    Bad("updateMonitorStatus", "no tag", body=without("updateMonitorStatus", "tag"), names="tag"),
    Bad("searchIncidents", "per_page=0", query={"per_page": 0}, names="per_page"),
    Bad(
        "updateMonitorStatus",
        "timestampInSeconds 2**62, in future",
        body=with_field("updateMonitorStatus", "timestampInSeconds", 2**62),
        names=str(2**62),
    ),
    unknown_incident("getIncident", UNKNOWN_INCIDENT),
    unknown_incident("addIncidentComment", UNKNOWN_INCIDENT),
    unknown_query_parameter("getMonitorStatus"),
]


@pytest.mark.parametrize("bad", cases(MESSAGES))
def test_error_message_names_what_was_wrong(api, context, bad):
    message = rejected(api, context, bad)
    named = bad.named(context)
    assert named.lower() in message.lower(), (
        f"{bad.describe()}: the error message should name {named!r}, got {message!r}"
    )


def spec_methods(target) -> dict[str, set[str]]:
    spec = yaml.safe_load(target.spec_path.read_text(encoding="utf-8"))
    return {
        path: {method.upper() for method in item if method != "parameters"}
        for path, item in spec["paths"].items()
    }


@pytest.mark.operation("-")
def test_unknown_path_is_a_json_404(api, context):
    # Under an incident's path too: no incident is needed for a path no operation has.
    for path in ("/api/nothing", "/api/statuses", "/api/incident/1/x", "/api"):
        answer = api.get(path, validate=False)
        assert_json_error(answer, (404,), f"GET {path}, a path the contract does not have")


WRONG_METHODS = [  # (method, path of the contract, operations on that path)
    ("PUT", "/api/status", ("updateMonitorStatus", "getMonitorStatus")),
    ("DELETE", "/api/incident", ("createIncident", "searchIncidents")),
    ("PUT", "/api/incident/{incidentNumber}", ("getIncident", "updateIncident")),
    (
        "DELETE",
        "/api/incident/{incidentNumber}/comment",
        ("addIncidentComment", "getIncidentComments"),
    ),
    ("GET", "/api/incident/{incidentNumber}/status", ("updateIncidentStatus",)),
]


@pytest.mark.parametrize(
    ("method", "template"),
    [
        pytest.param(
            method, template, marks=pytest.mark.operation(*operations), id=f"{method} {template}"
        )
        for method, template, operations in WRONG_METHODS
    ],
)
def test_wrong_method_is_a_json_405_with_a_complete_allow(api, context, target, method, template):
    path = template
    if "{incidentNumber}" in template:
        path = template.replace("{incidentNumber}", str(context.number))
    declared = spec_methods(target)[template]
    answer = api.request(method, path, validate=False)
    sent = f"{method} {path} (the contract has {', '.join(sorted(declared))} there)"
    assert_json_error(answer, (405,), sent)
    allow = {entry.strip().upper() for entry in answer.headers.get("allow", "").split(",")}
    assert declared <= allow and method not in allow, (
        f"{sent}: the Allow header should list every declared method ({', '.join(sorted(declared))}"
        f") and not {method}, got {answer.headers.get('allow')!r}"
    )


@pytest.mark.operation("getMonitorStatus", "updateMonitorStatus")
def test_head_is_a_405_without_a_body(api, context, target):
    declared = spec_methods(target)["/api/status"]
    answer = api.request("HEAD", "/api/status", params={"tag": context.tag}, validate=False)
    assert answer.status_code == 405, (
        f"HEAD /api/status is no operation of the contract: expected 405, got {answer.status_code}"
    )
    allow = {entry.strip().upper() for entry in answer.headers.get("allow", "").split(",")}
    assert declared <= allow and "HEAD" not in allow, (
        f"HEAD /api/status: the Allow header should list {', '.join(sorted(declared))}, "
        f"got {answer.headers.get('allow')!r}"
    )
    # No body came with it: the connection still carries the next answer intact.
    follow = api.get("/api/status", params={"tag": context.tag})
    assert follow.status_code == 200, (
        f"after HEAD, GET /api/status?tag={context.tag} on the same connection should answer "
        f"200, got {follow.status_code}: {follow.text[:300]}"
    )
