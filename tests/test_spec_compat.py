"""`openapi.yaml` is a compatible refinement of the original Kener 2.0.0 spec.

Checked mechanically against `conformance/specs/kener-2.0.0-openapi.yaml`, the original as
published (README: "How `openapi.yaml` refines the Kener 2.0.0 spec"): every path, operation,
operationId, parameter, request body, status code, security requirement and schema property
of the original is in ours with the same meaning. Ours may add constraints, descriptions,
fixed examples, `links` and optional extras; it may not change a type, an enum, `nullable` or
a default, drop anything, or ask more of a request (a new required parameter or request-body
property).

Each check is built from the original alone and names what it covers (path, operation,
parameter, status code, schema property), so a failure says what was broken. The same checks,
run all at once by `compare_specs`, are also applied to mutated copies of our spec below, to
show that they catch each kind of break.
"""

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from openapi_spec_validator import OpenAPIV30SpecValidator, validate

OUR_SPEC = Path(__file__).resolve().parents[1] / "openapi.yaml"
ORIGINAL_SPEC = Path(__file__).resolve().parents[1] / "conformance/specs/kener-2.0.0-openapi.yaml"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_ABSENT = object()


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- Reading a spec ---------------------------------------------------------------------------


class SpecGap(Exception):
    """Something a check looks for is not in the spec (or a `$ref` leads nowhere)."""


def deref(doc: dict, node):
    """Follow local `$ref`s from `node` until a node that is not a reference."""
    seen = []
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise SpecGap(f"unsupported $ref {ref!r}")
        if ref in seen:
            raise SpecGap(f"$ref cycle {' -> '.join([*seen, ref])}")
        seen.append(ref)
        node = doc
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(node, dict) or part not in node:
                raise SpecGap(f"$ref {ref!r} leads nowhere")
            node = node[part]
    return node


def flatten(doc: dict, schema) -> dict:
    """A schema with `$ref`s resolved and `allOf` merged into one dict.

    `properties` are merged (a property declared by several parts becomes an `allOf` of its
    declarations), `required` lists are united, and `type` is the parts' common type (a
    `conflict: ...` string when they disagree). Other keywords: the first part declaring one
    wins, which is all the comparison below needs.
    """
    schema = deref(doc, schema)
    if not isinstance(schema, dict):
        raise SpecGap(f"schema is not an object: {schema!r}")
    parts = [schema, *(flatten(doc, part) for part in schema.get("allOf", []))]
    merged: dict = {}
    properties: dict[str, list] = {}
    required: list[str] = []
    types: list[str] = []
    for part in parts:
        for key, value in part.items():
            if key == "properties":
                for name, sub in value.items():
                    properties.setdefault(name, []).append(sub)
            elif key == "required":
                required += [name for name in value if name not in required]
            elif key == "type":
                if value not in types:
                    types.append(value)
            elif key != "allOf":
                merged.setdefault(key, value)
    if types:
        merged["type"] = types[0] if len(types) == 1 else "conflict: " + " & ".join(types)
    if properties:
        merged["properties"] = {
            name: subs[0] if len(subs) == 1 else {"allOf": subs}
            for name, subs in properties.items()
        }
    if required:
        merged["required"] = required
    return merged


def path_item(doc: dict, path: str) -> dict:
    paths = doc.get("paths") or {}
    if path not in paths:
        raise SpecGap(f"path {path} missing")
    return deref(doc, paths[path])


def operation(doc: dict, path: str, method: str) -> dict:
    item = path_item(doc, path)
    if method not in item:
        raise SpecGap(f"operation {method.upper()} {path} missing")
    return item[method]


def operations(doc: dict) -> Iterator[tuple[str, str]]:
    for path, item in (doc.get("paths") or {}).items():
        for method in HTTP_METHODS:
            if method in deref(doc, item):
                yield path, method


def parameters(doc: dict, path: str, method: str) -> dict[tuple[str, str], dict]:
    """The operation's effective parameters by (name, in): path-level ones, overridden."""
    found = {}
    for node in [
        *path_item(doc, path).get("parameters", []),
        *operation(doc, path, method).get("parameters", []),
    ]:
        param = deref(doc, node)
        found[(param["name"], param["in"])] = param
    return found


def request_body(doc: dict, path: str, method: str) -> dict | None:
    body = operation(doc, path, method).get("requestBody")
    return None if body is None else deref(doc, body)


def responses(doc: dict, path: str, method: str) -> dict[str, dict]:
    """The operation's responses by status code (as a string), references resolved."""
    declared = operation(doc, path, method).get("responses") or {}
    return {str(code): deref(doc, response) for code, response in declared.items()}


def security(doc: dict, path: str, method: str) -> list[dict]:
    """The operation's effective security requirements, normalised for comparison."""
    op = operation(doc, path, method)
    requirements = op["security"] if "security" in op else doc.get("security", [])
    return sorted(
        ({name: sorted(scopes) for name, scopes in req.items()} for req in requirements),
        key=repr,
    )


def _label(path: str, method: str) -> str:
    return f"{method.upper()} {path}"


def _same(a, b) -> bool:
    """Equal and of the same YAML type (so `1`, `1.0`, `true` and `'1'` all differ)."""
    return type(a) is type(b) and a == b


def _missing(values, others) -> list:
    return [v for v in values if not any(_same(v, o) for o in others)]


# --- Comparing schemas --------------------------------------------------------------------------

# A schema location below a root: ("properties", "tags", "items") is `.tags[]`.
Location = tuple[str, ...]


def schema_locations(doc: dict, schema, here: Location = (), refs=()) -> Iterator[Location]:
    """Every location of a (sub)schema the original declares: the root, each property, each
    array's items, recursively."""
    yield here
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if ref in refs:  # a recursive schema: its locations are already listed
        return
    refs = (*refs, ref) if ref else refs
    flat = flatten(doc, schema)
    for name, sub in flat.get("properties", {}).items():
        yield from schema_locations(doc, sub, (*here, "properties", name), refs)
    if "items" in flat:
        yield from schema_locations(doc, flat["items"], (*here, "items"), refs)


def schema_at(doc: dict, root, location: Location) -> dict:
    """The flattened schema at `location` under `root`."""
    node = flatten(doc, root)
    walked = ""
    steps = list(location)
    while steps:
        step = steps.pop(0)
        if step == "properties":
            name = steps.pop(0)
            walked += f".{name}"
            sub = node.get("properties", {}).get(name)
            if sub is None:
                raise SpecGap(f"property {walked} missing")
        else:
            walked += "[]"
            sub = node.get("items")
            if sub is None:
                raise SpecGap(f"{walked} missing: not an array of items any more")
        node = flatten(doc, sub)
    return node


def describe(location: Location) -> str:
    text = ""
    steps = list(location)
    while steps:
        step = steps.pop(0)
        text += f".{steps.pop(0)}" if step == "properties" else "[]"
    return text


def compare_schema(original: dict, ours: dict, *, request: bool) -> list[str]:
    """How the flattened schema `ours` changes the meaning of `original` (empty: it does not).

    `request`: the schema describes what a client sends, so ours may not require more.
    """
    problems = []
    if "type" in original and ours.get("type") != original["type"]:
        problems.append(f"type {original['type']!r} became {ours.get('type')!r}")
    if "enum" in original:
        if "enum" not in ours:
            problems.append(f"enum {original['enum']!r} dropped")
        else:
            removed = _missing(original["enum"], ours["enum"])
            added = _missing(ours["enum"], original["enum"])
            if removed:
                problems.append(f"enum values removed: {removed!r}")
            if added:
                problems.append(f"enum values added: {added!r}")
    if bool(original.get("nullable")) != bool(ours.get("nullable")):
        problems.append(
            f"nullable {bool(original.get('nullable'))} became {bool(ours.get('nullable'))}"
        )
    for key in ("default", "format"):
        if key in original and not _same(ours.get(key, _ABSENT), original[key]):
            problems.append(f"{key} {original[key]!r} became {ours.get(key, '(none)')!r}")
    dropped = _missing(original.get("required", []), ours.get("required", []))
    if dropped:
        problems.append(f"required properties no longer required: {dropped!r}")
    if request:
        added = _missing(ours.get("required", []), original.get("required", []))
        if added:
            problems.append(f"new required request-body properties: {added!r}")
        if (
            ours.get("additionalProperties") is False
            and original.get("additionalProperties", True) is not False
        ):
            problems.append("unknown fields rejected (additionalProperties: false)")
    return problems


# --- The checks, built from the original ----------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One thing of the original that ours must keep; `run` lists how ours breaks it."""

    kind: str
    id: str
    run: Callable[[dict, dict], list[str]]

    def problems(self, original: dict, ours: dict) -> list[str]:
        try:
            found = self.run(original, ours)
        except SpecGap as gap:
            found = [str(gap)]
        return [f"{self.id}: {problem}" for problem in found]


def _path_check(path):
    def run(original, ours):
        path_item(ours, path)
        return []

    return Check("path", path, run)


def _operation_check(path, method):
    def run(original, ours):
        op_original = operation(original, path, method)
        op_ours = operation(ours, path, method)
        problems = []
        if op_ours.get("operationId") != op_original.get("operationId"):
            problems.append(
                f"operationId {op_original.get('operationId')!r} became "
                f"{op_ours.get('operationId')!r}"
            )
        if security(ours, path, method) != security(original, path, method):
            problems.append(
                f"security {security(original, path, method)!r} became "
                f"{security(ours, path, method)!r}"
            )
        params_original = parameters(original, path, method)
        for key, param in parameters(ours, path, method).items():
            was = params_original.get(key)
            if param.get("required") and not (was and was.get("required")):
                problems.append(f"new required parameter {key[0]!r} in {key[1]}")
        body_original = request_body(original, path, method)
        body_ours = request_body(ours, path, method)
        if body_original is None:
            if body_ours is not None and body_ours.get("required"):
                problems.append("new required requestBody")
        elif body_ours is None:
            problems.append("requestBody missing")
        else:
            if bool(body_ours.get("required")) != bool(body_original.get("required")):
                problems.append(
                    f"requestBody required {bool(body_original.get('required'))} became "
                    f"{bool(body_ours.get('required'))}"
                )
            missing = _missing(
                list(body_original.get("content", {})), list(body_ours.get("content", {}))
            )
            if missing:
                problems.append(f"requestBody media types missing: {missing!r}")
        # Every status code this project answers is one the original declares.
        added = _missing(
            list(responses(ours, path, method)), list(responses(original, path, method))
        )
        if added:
            problems.append(f"status codes the original does not declare: {added!r}")
        return problems

    return Check("operation", _label(path, method), run)


def _parameter_check(path, method, name, where):
    def run(original, ours):
        was = parameters(original, path, method)[(name, where)]
        now = parameters(ours, path, method).get((name, where))
        if now is None:
            return ["parameter missing"]
        problems = []
        if bool(now.get("required")) != bool(was.get("required")):
            problems.append(
                f"required {bool(was.get('required'))} became {bool(now.get('required'))}"
            )
        for key in ("style", "explode", "allowEmptyValue"):
            if key in was and now.get(key, _ABSENT) != was[key]:
                problems.append(f"{key} {was[key]!r} became {now.get(key, '(none)')!r}")
        if "schema" in was:
            if "schema" not in now:
                return [*problems, "schema missing"]
            problems += compare_schema(
                flatten(original, was["schema"]), flatten(ours, now["schema"]), request=True
            )
        return problems

    return Check("parameter", f"{_label(path, method)} {where} parameter {name}", run)


def _response_check(path, method, code):
    def run(original, ours):
        was = responses(original, path, method)[code]
        now = responses(ours, path, method).get(code)
        if now is None:
            return [f"status code {code} missing"]
        problems = []
        missing = _missing(list(was.get("content", {})), list(now.get("content", {})))
        if missing:
            problems.append(f"media types missing: {missing!r}")
        headers_now = {name.lower(): deref(ours, h) for name, h in now.get("headers", {}).items()}
        for name, header in was.get("headers", {}).items():
            header = deref(original, header)
            if name.lower() not in headers_now:
                problems.append(f"header {name} missing")
            elif bool(headers_now[name.lower()].get("required")) != bool(header.get("required")):
                problems.append(f"header {name}: required changed")
        return problems

    return Check("response", f"{_label(path, method)} {code}", run)


def _security_scheme_check(name):
    def run(original, ours):
        was = deref(original, original["components"]["securitySchemes"][name])
        schemes = (ours.get("components") or {}).get("securitySchemes") or {}
        if name not in schemes:
            return ["security scheme missing"]
        now = deref(ours, schemes[name])
        return [
            f"{key} {was[key]!r} became {now.get(key, '(none)')!r}"
            for key in ("type", "scheme", "bearerFormat", "in", "name", "openIdConnectUrl")
            if key in was and now.get(key) != was[key]
        ]

    return Check("security scheme", f"securityScheme {name}", run)


def _schema_check(label, root_of, location, request):
    def run(original, ours):
        was = schema_at(original, root_of(original), location)
        now = schema_at(ours, root_of(ours), location)
        return compare_schema(was, now, request=request)

    direction = "request" if request else "response"
    return Check("schema", f"{label}{describe(location)} ({direction})", run)


def _components(doc: dict, section: str) -> dict:
    return (doc.get("components") or {}).get(section) or {}


def _refs_in(node) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from _refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs_in(value)


def request_schema_names(doc: dict) -> set[str]:
    """The component schemas a request body uses, directly or through other schemas."""
    prefix = "#/components/schemas/"
    pending = [
        ref
        for path, method in operations(doc)
        if (body := request_body(doc, path, method)) is not None
        for ref in _refs_in(body.get("content", {}))
    ]
    names: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref.startswith(prefix) and (name := ref[len(prefix) :]) not in names:
            names.add(name)
            pending += _refs_in(_components(doc, "schemas").get(name))
    return names


def _schema_checks(doc, label, root_of, request) -> list[Check]:
    root = root_of(doc)
    return [_schema_check(label, root_of, loc, request) for loc in schema_locations(doc, root)]


def build_checks(original: dict) -> list[Check]:
    """Every check ours must pass, read off the original spec."""
    checks = [_path_check(path) for path in original.get("paths") or {}]
    checks += [_security_scheme_check(name) for name in _components(original, "securitySchemes")]
    request_schemas = request_schema_names(original)

    for name in _components(original, "schemas"):

        def root_of(doc, name=name):
            schemas = _components(doc, "schemas")
            if name not in schemas:
                raise SpecGap(f"components.schemas.{name} missing")
            return schemas[name]

        checks += _schema_checks(
            original, f"schema {name}", root_of, request=name in request_schemas
        )

    for path, method in operations(original):
        label = _label(path, method)
        checks.append(_operation_check(path, method))
        checks += [
            _parameter_check(path, method, name, where)
            for name, where in parameters(original, path, method)
        ]
        body = request_body(original, path, method)
        for media in (body or {}).get("content", {}):
            if "schema" not in body["content"][media]:
                continue

            def root_of(doc, path=path, method=method, media=media):
                content = (request_body(doc, path, method) or {}).get("content", {})
                if media not in content or "schema" not in content[media]:
                    raise SpecGap(f"requestBody {media} schema missing")
                return content[media]["schema"]

            checks += _schema_checks(original, f"{label} requestBody {media}", root_of, True)
        for code, response in responses(original, path, method).items():
            checks.append(_response_check(path, method, code))
            for media, content in response.get("content", {}).items():
                if "schema" not in content:
                    continue

                def root_of(doc, path=path, method=method, code=code, media=media):
                    response = responses(doc, path, method).get(code)
                    content = (response or {}).get("content", {})
                    if media not in content or "schema" not in content[media]:
                        raise SpecGap(f"response {code} {media} schema missing")
                    return content[media]["schema"]

                checks += _schema_checks(original, f"{label} {code} {media}", root_of, False)
    return checks


def compare_specs(original: dict, ours: dict) -> list[str]:
    """Every way `ours` is not a compatible refinement of `original` (empty: it is)."""
    return [
        problem for check in build_checks(original) for problem in check.problems(original, ours)
    ]


# --- The tests --------------------------------------------------------------------------------

OURS = _load(OUR_SPEC)
ORIGINAL = _load(ORIGINAL_SPEC)
CHECKS = build_checks(ORIGINAL)


def _checks(kind: str) -> list:
    return [pytest.param(check, id=check.id) for check in CHECKS if check.kind == kind]


@pytest.fixture
def original() -> dict:
    return ORIGINAL


@pytest.fixture
def ours() -> dict:
    """A private copy of our spec, free to mutate."""
    return copy.deepcopy(OURS)


def _assert_kept(check: Check) -> None:
    problems = check.problems(ORIGINAL, OURS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("check", _checks("path"))
def test_path_kept(check):
    _assert_kept(check)


@pytest.mark.parametrize("check", _checks("operation"))
def test_operation_kept(check):
    _assert_kept(check)


@pytest.mark.parametrize("check", _checks("parameter"))
def test_parameter_kept(check):
    _assert_kept(check)


@pytest.mark.parametrize("check", _checks("response"))
def test_response_kept(check):
    _assert_kept(check)


@pytest.mark.parametrize("check", _checks("security scheme"))
def test_security_scheme_kept(check):
    _assert_kept(check)


@pytest.mark.parametrize("check", _checks("schema"))
def test_schema_kept(check):
    _assert_kept(check)


def test_ours_is_valid_openapi_30():
    assert str(OURS.get("openapi", "")).startswith("3.0."), OURS.get("openapi")
    validate(OURS, cls=OpenAPIV30SpecValidator)


def error_response_problems(doc: dict, path: str, method: str, code: str) -> list[str]:
    """How the 400/401 response of an operation misses the `{"error": "<string>"}` body."""
    content = responses(doc, path, method)[code].get("content", {})
    if "application/json" not in content or "schema" not in content["application/json"]:
        return ["no application/json schema"]
    schema = flatten(doc, content["application/json"]["schema"])
    if schema.get("type") != "object":
        return [f"body type is {schema.get('type')!r}, not 'object'"]
    error = schema.get("properties", {}).get("error")
    if error is None:
        return ["no `error` property"]
    error_type = flatten(doc, error).get("type")
    return [] if error_type == "string" else [f"`error` is of type {error_type!r}, not 'string'"]


ERROR_RESPONSES = [
    pytest.param(path, method, code, id=f"{_label(path, method)} {code}")
    for path, method in operations(OURS)
    for code in responses(OURS, path, method)
    if code in ("400", "401")
]


@pytest.mark.parametrize(("path", "method", "code"), ERROR_RESPONSES)
def test_error_response_is_json_error_string(path, method, code):
    problems = error_response_problems(OURS, path, method, code)
    assert not problems, f"{_label(path, method)} {code}: " + "; ".join(problems)


# --- The comparison catches breaks, and lets allowed refinements through ------------------


def _param(doc, path, method, name) -> dict:
    for where in (operation(doc, path, method), path_item(doc, path)):
        for param in where.get("parameters", []):
            if deref(doc, param)["name"] == name:
                return deref(doc, param)
    raise AssertionError(f"no parameter {name} in {_label(path, method)}: update this test")


def _remove_per_page(doc):
    op = operation(doc, "/api/incident", "get")
    op["parameters"] = [p for p in op["parameters"] if deref(doc, p)["name"] != "per_page"]


def _rename_operation(doc):
    operation(doc, "/api/incident", "post")["operationId"] = "makeIncident"


def _drop_401(doc):
    del operation(doc, "/api/incident/{incidentNumber}", "get")["responses"]["401"]


def _latency_integer(doc):
    doc["components"]["schemas"]["MonitorStatus"]["properties"]["latency"]["type"] = "integer"


def _drop_impact_value(doc):
    doc["components"]["schemas"]["IncidentFields"]["properties"]["impact"]["enum"].remove(
        "DEGRADED"
    )


def _require_incident_body(doc):
    doc["components"]["schemas"]["IncidentFields"]["required"].append("body")


def _drop_state_value(doc):
    _param(doc, "/api/incident", "get", "state")["schema"]["enum"].remove("closed")


def _change_page_default(doc):
    _param(doc, "/api/incident", "get", "page")["schema"]["default"] = 0


def _page_as_string(doc):
    _param(doc, "/api/incident", "get", "page")["schema"] = {"type": "string"}


def _add_required_query(doc):
    operation(doc, "/api/incident", "get")["parameters"].append(
        {"name": "team", "in": "query", "required": True, "schema": {"type": "string"}}
    )


def _make_tag_optional(doc):
    _param(doc, "/api/status", "get", "tag")["required"] = False


def _drop_security(doc):
    operation(doc, "/api/incident/{incidentNumber}/comment", "post")["security"] = []


def _optional_request_body(doc):
    operation(doc, "/api/status", "post")["requestBody"]["required"] = False


def _form_request_body(doc):
    content = operation(doc, "/api/incident", "post")["requestBody"]["content"]
    content["application/x-www-form-urlencoded"] = content.pop("application/json")


def _closed_at_not_nullable(doc):
    response = doc["components"]["schemas"]["IncidentResponse"]["allOf"][1]
    response["properties"]["closedAt"]["nullable"] = False


def _drop_required_tag(doc):
    doc["components"]["schemas"]["MonitorStatus"]["required"].remove("tag")


def _drop_comment_id(doc):
    del doc["components"]["schemas"]["CommentResponse"]["properties"]["commentID"]


def _tags_as_string(doc):
    doc["components"]["schemas"]["IncidentFields"]["properties"]["tags"] = {"type": "string"}


def _strict_incident(doc):
    doc["components"]["schemas"]["IncidentFields"]["additionalProperties"] = False


def _add_404(doc):
    operation(doc, "/api/incident/{incidentNumber}", "get")["responses"]["404"] = {
        "$ref": "#/components/responses/Response400"
    }


def _rename_path(doc):
    doc["paths"]["/api/incident/{incidentNumber}/comments"] = doc["paths"].pop(
        "/api/incident/{incidentNumber}/comment"
    )


def _status_body_schema_swapped(doc):
    body = operation(doc, "/api/incident/{incidentNumber}/status", "post")["requestBody"]
    body["content"]["application/json"]["schema"] = {"$ref": "#/components/schemas/Comment"}


def _bearer_to_basic(doc):
    doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] = "basic"


# (mutation, words one reported problem must all contain)
BREAKS = {
    "per_page removed": (
        _remove_per_page,
        ["GET /api/incident query parameter per_page", "missing"],
    ),
    "operationId renamed": (
        _rename_operation,
        ["POST /api/incident", "operationId", "makeIncident"],
    ),
    "status code dropped": (_drop_401, ["GET /api/incident/{incidentNumber} 401", "missing"]),
    "latency made integer": (_latency_integer, ["schema MonitorStatus.latency", "type", "integer"]),
    "enum value removed": (_drop_impact_value, ["schema Incident.impact", "removed", "DEGRADED"]),
    "body required in Incident": (
        _require_incident_body,
        ["schema Incident (request)", "new required", "body"],
    ),
    "body required in createIncident": (
        _require_incident_body,
        ["POST /api/incident requestBody application/json (request)", "new required", "body"],
    ),
    "parameter enum value removed": (_drop_state_value, ["parameter state", "removed", "closed"]),
    "parameter default changed": (_change_page_default, ["parameter page", "default"]),
    "parameter type changed": (_page_as_string, ["parameter page", "type"]),
    "new required query parameter": (
        _add_required_query,
        ["GET /api/incident", "new required parameter 'team'"],
    ),
    "required parameter made optional": (_make_tag_optional, ["parameter tag", "required"]),
    "security dropped": (
        _drop_security,
        ["POST /api/incident/{incidentNumber}/comment", "security"],
    ),
    "request body made optional": (
        _optional_request_body,
        ["POST /api/status", "requestBody required"],
    ),
    "request media type changed": (
        _form_request_body,
        ["POST /api/incident", "media types missing"],
    ),
    "nullable removed": (_closed_at_not_nullable, ["schema IncidentResponse.closedAt", "nullable"]),
    "required property dropped": (
        _drop_required_tag,
        ["schema MonitorStatus (request)", "no longer required", "tag"],
    ),
    "response property removed": (
        _drop_comment_id,
        ["schema CommentResponse.commentID", "missing"],
    ),
    "array made string": (_tags_as_string, ["schema Incident.tags", "type"]),
    "unknown fields rejected": (
        _strict_incident,
        ["schema Incident (request)", "additionalProperties"],
    ),
    "undeclared status code added": (_add_404, ["GET /api/incident/{incidentNumber}:", "'404'"]),
    "path renamed": (_rename_path, ["/api/incident/{incidentNumber}/comment", "missing"]),
    "request schema swapped": (
        _status_body_schema_swapped,
        [
            "POST /api/incident/{incidentNumber}/status requestBody application/json.isResolved",
            "missing",
        ],
    ),
    "security scheme changed": (_bearer_to_basic, ["securityScheme bearerAuth", "scheme"]),
}


def test_ours_passes_the_comparison_as_a_whole(original, ours):
    assert compare_specs(original, ours) == []


@pytest.mark.parametrize(("mutate", "words"), BREAKS.values(), ids=BREAKS.keys())
def test_comparison_reports_break(original, ours, mutate, words):
    mutate(ours)
    problems = compare_specs(original, ours)
    assert any(all(word in problem for word in words) for problem in problems), (
        f"no problem mentions all of {words!r}; reported:\n" + "\n".join(problems)
    )


def _allowed_refinements(doc):
    def rewrite(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("description", "summary") and isinstance(value, str):
                    node[key] = "reworded"
                elif key == "example":
                    node[key] = None
                else:
                    rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)

    rewrite(doc["paths"])
    rewrite(doc["components"]["schemas"])
    schemas = doc["components"]["schemas"]
    schemas["MonitorStatus"]["properties"]["latency"]["maximum"] = 3600
    schemas["IncidentFields"]["properties"]["title"]["maxLength"] = 200
    schemas["IncidentResponse"]["allOf"][1].setdefault("required", []).append("title")
    _param(doc, "/api/incident", "get", "per_page")["schema"]["maximum"] = 50
    operation(doc, "/api/incident", "get")["parameters"].append(
        {"name": "impact", "in": "query", "schema": {"type": "string", "enum": ["DOWN"]}}
    )
    operation(doc, "/api/status", "get")["responses"]["200"]["headers"] = {
        "X-Request-Id": {"schema": {"type": "string"}}
    }
    for path, method in operations(doc):
        operation(doc, path, method)["responses"]["200"].setdefault("links", {})


def test_comparison_allows_refinements(original, ours):
    """Reworded descriptions, changed examples, added constraints, an added optional query
    parameter, a response header and `links` are all allowed."""
    _allowed_refinements(ours)
    assert compare_specs(original, ours) == []


def test_error_response_check_reports_a_non_string_error(ours):
    ours["components"]["responses"]["Response401"]["content"]["application/json"]["schema"][
        "properties"
    ]["error"] = {"type": "object"}
    assert error_response_problems(ours, "/api/status", "post", "401") == [
        "`error` is of type 'object', not 'string'"
    ]
    del ours["components"]["responses"]["Response400"]["content"]["application/json"]
    assert error_response_problems(ours, "/api/status", "post", "400") == [
        "no application/json schema"
    ]
