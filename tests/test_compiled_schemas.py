"""The compiled validator (jsonschema-rs) against the one Connexion uses (jsonschema), on every
schema of openapi.yaml: the same instances accepted, the same refused (kener_api.compiled_schemas).

Instances are drawn valid (`_valid`, for the keywords the contract uses), invalid (a valid
one mutated: a field dropped, replaced by any JSON value, an unknown field added, a number
moved by one, text lengthened, an item repeated) and arbitrary.

One difference was found, and is pinned here: jsonschema reads a pattern's `$` as Python
does, matching before a final newline ("red\\n" matches `^red$`), where JSON Schema's regular
expressions (ECMA 262) and jsonschema-rs do not. The server keeps jsonschema-rs's verdict
(a badge colour `red` + newline is now refused, 400); the comparison reads Python's `$` as
`\\Z`, and a test shows the difference itself.
"""

import json
import os
import re

import pytest
import yaml
from connexion.json_schema import resolve_refs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, ValidationError

from kener_api.app import SPEC_PATH
from kener_api.compiled_schemas import (
    PYTHON_VALIDATORS,
    UnsupportedSchema,
    compiled,
    draft4,
)

EXAMPLES = int(os.environ.get("KENER_SCHEMA_EXAMPLES", "150"))


def _contract_schemas() -> list[tuple[str, str, dict]]:
    """(where, kind, schema) for every parameter, request body and JSON answer."""
    spec = resolve_refs(yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8")))
    found, seen = [], set()

    def add(where: str, kind: str, schema: dict) -> None:
        key = (kind, json.dumps(schema, sort_keys=True))
        if key not in seen:
            seen.add(key)
            found.append((where, kind, schema))

    for item in spec["paths"].values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            for parameter in [*item.get("parameters", []), *operation.get("parameters", [])]:
                add(
                    f"{operation['operationId']} {parameter['name']}",
                    "parameter",
                    parameter["schema"],
                )
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                add(f"{operation['operationId']} body", "request", body["schema"])
            for status, response in operation["responses"].items():
                for media, content in response.get("content", {}).items():
                    if media.endswith("json") and "schema" in content:
                        add(f"{operation['operationId']} {status}", "response", content["schema"])
    return found


SCHEMAS = _contract_schemas()

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


def _mutated(value) -> st.SearchStrategy:
    """`value` changed in one place: what sits just outside a schema."""
    options = [_JSON]
    if isinstance(value, dict) and value:
        keys = sorted(value)
        options += [
            st.sampled_from(keys).map(lambda k: {n: v for n, v in value.items() if n != k}),
            st.sampled_from(keys).flatmap(
                lambda k: _mutated(value[k]).map(lambda new: {**value, k: new})
            ),
            st.tuples(st.text(max_size=8), _JSON).map(lambda kv: {**value, kv[0]: kv[1]}),
        ]
    if isinstance(value, list) and value:
        options += [
            st.integers(0, len(value) - 1).flatmap(
                lambda i: _mutated(value[i]).map(lambda new: [*value[:i], new, *value[i + 1 :]])
            ),
            st.just([*value, value[0]]),
            st.just(value[1:]),
        ]
    if isinstance(value, str):
        options += [
            st.sampled_from(["\n", " ", "x", "\x00", "é", "0" * 300]).map(lambda s: value + s),
            st.just(value[1:]),
        ]
    if isinstance(value, int | float) and not isinstance(value, bool):
        options += [st.sampled_from([1, -1, 0.5, -0.5]).map(lambda d: value + d)]
    return st.one_of(options)


def _merged(parts: list[dict]) -> dict:
    """One schema of the parts of an `allOf` (the contract's combine objects)."""
    out: dict = {}
    for part in parts:
        part = _merged(part["allOf"]) | part if "allOf" in part else part
        for key, value in part.items():
            if key == "properties":
                out["properties"] = {**out.get("properties", {}), **value}
            elif key == "required":
                out["required"] = [*out.get("required", []), *value]
            elif key != "allOf":
                out[key] = value
    return out


def _valid(schema: dict, nullable_ok: bool) -> st.SearchStrategy:
    """Instances the schema is meant to take, drawn from the keywords the contract uses
    (`test_the_contract_uses_only_known_keywords`)."""
    if "allOf" in schema:
        schema = _merged([{k: v for k, v in schema.items() if k != "allOf"}, *schema["allOf"]])
    if "enum" in schema:
        drawn = st.sampled_from(schema["enum"])
    else:
        kind = schema.get("type")
        if kind == "string":
            low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
            if "pattern" in schema:
                drawn = st.from_regex(schema["pattern"]).filter(lambda s: low <= len(s) <= high)
            else:
                drawn = st.text(min_size=low, max_size=min(high, low + 40))
        elif kind == "integer":
            drawn = st.integers(schema.get("minimum"), schema.get("maximum"))
        elif kind == "number":
            low, high = schema.get("minimum"), schema.get("maximum")
            drawn = st.integers(low, high) | st.floats(
                low, high, allow_nan=False, allow_infinity=False
            )
        elif kind == "boolean":
            drawn = st.booleans()
        elif kind == "array":
            drawn = st.lists(
                _valid(schema.get("items", {}), nullable_ok),
                min_size=schema.get("minItems", 0),
                max_size=min(schema.get("maxItems", 5), schema.get("minItems", 0) + 5),
            )
        elif kind == "object":
            properties = schema.get("properties", {})
            required = set(schema.get("required", []))
            drawn = st.fixed_dictionaries(
                {name: _valid(properties.get(name, {}), nullable_ok) for name in sorted(required)},
                optional={
                    name: _valid(sub, nullable_ok)
                    for name, sub in properties.items()
                    if name not in required
                },
            )
        else:
            drawn = _JSON
    if nullable_ok and schema.get("nullable") is True:
        drawn = drawn | st.none()
    return drawn


def _instances(schema: dict, kind: str) -> st.SearchStrategy:
    valid = _valid(schema, nullable_ok=kind != "parameter")
    return st.one_of(valid, valid.flatmap(_mutated), _JSON)


def _ecma_dollar(schema):
    """`schema` with each pattern's final `$` written `\\Z`: how JSON Schema means it."""
    if isinstance(schema, dict):
        out = {key: _ecma_dollar(value) for key, value in schema.items()}
        if isinstance(schema.get("pattern"), str):
            out["pattern"] = re.sub(r"(?<!\\)\$$", r"\\Z", schema["pattern"])
        return out
    if isinstance(schema, list):
        return [_ecma_dollar(item) for item in schema]
    return schema


def _python(schema: dict, kind: str):
    return PYTHON_VALIDATORS[kind](schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def test_every_kind_of_schema_is_compared():
    kinds = {kind for _, kind, _ in SCHEMAS}
    assert kinds == {"parameter", "request", "response"}
    assert len(SCHEMAS) > 30


@pytest.mark.parametrize(("where", "kind", "schema"), SCHEMAS, ids=[s[0] for s in SCHEMAS])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_same_verdicts_as_jsonschema(where, kind, schema, data):
    instance = data.draw(_instances(schema, kind), label="instance")
    expected = _python(_ecma_dollar(schema), kind).is_valid(instance)
    assert compiled(schema, kind).is_valid(instance) is expected, (where, instance)
    # The error raised is jsonschema's own, for the same instance.
    if not expected:
        with pytest.raises(ValidationError):
            compiled(schema, kind).validate(instance)


def test_pattern_dollar_is_the_end_of_the_text():
    """The difference found: jsonschema takes a final newline where `$` is, jsonschema-rs
    does not. The compiled verdict stands, and its message says why."""
    schema = {"type": "string", "pattern": "^(red|blue)$"}
    assert _python(schema, "parameter").is_valid("red\n")
    assert not compiled(schema, "parameter").is_valid("red\n")
    with pytest.raises(ValidationError, match="does not match"):
        compiled(schema, "parameter").validate("red\n")


def test_openapi_nullable_is_written_as_draft4():
    schema = {"type": "string", "enum": ["a"], "nullable": True}
    assert draft4(schema, "request") == {
        "type": ["string", "null"],
        "enum": ["a", None],
        "nullable": True,
    }
    assert compiled(schema, "request").is_valid(None)
    assert compiled(schema, "response").is_valid(None)
    # Connexion's parameter validator is plain Draft 4: no nullable there.
    assert not compiled(schema, "parameter").is_valid(None)
    # A property called "type" or "nullable" is a name, not a keyword.
    named = {"type": "object", "properties": {"type": {"type": "integer"}, "nullable": {}}}
    assert draft4(named, "request") == named


def test_write_only_properties_are_refused_in_answers():
    schema = {"type": "object", "properties": {"secret": {"type": "string", "writeOnly": True}}}
    assert compiled(schema, "request").is_valid({"secret": "x"})
    assert not compiled(schema, "response").is_valid({"secret": "x"})
    assert not _python(schema, "response").is_valid({"secret": "x"})
    assert compiled(schema, "response").is_valid({})


@pytest.mark.parametrize(
    "schema", [{"type": "string", "format": "email"}, {"$ref": "#/components/schemas/X"}]
)
def test_what_was_not_compared_is_refused_at_start(schema):
    """A format (the two packages check formats differently) or an unresolved reference
    stops the app from starting, rather than being judged differently."""
    with pytest.raises(UnsupportedSchema):
        draft4({"type": "object", "properties": {"x": schema}}, "request")


KNOWN_KEYWORDS = {
    *("type", "enum", "properties", "required", "items", "allOf", "nullable"),
    *("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "pattern"),
    *("example", "description", "default"),
}


def test_the_contract_uses_only_known_keywords():
    """`_valid` draws from these; a keyword added to the contract must be added there."""
    used = set()

    def walk(schema):
        if isinstance(schema, dict):
            used.update(schema)
            for name in ("items", "not", "additionalProperties"):
                walk(schema.get(name))
            for sub in [*schema.get("properties", {}).values(), *schema.get("allOf", [])]:
                walk(sub)

    for _, _, schema in SCHEMAS:
        walk(schema)
    assert used <= KNOWN_KEYWORDS, used - KNOWN_KEYWORDS


def test_the_contract_has_nothing_left_uncompared():
    for _, kind, schema in SCHEMAS:
        draft4(schema, kind)  # raises on a format or a $ref
