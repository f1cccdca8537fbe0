"""One compiled validator per schema of the contract: jsonschema-rs decides whether an instance
is valid, jsonschema says why when it is not.

Validating with the Python `jsonschema` package cost about a fifth of a status push's CPU
(request body, parameters and response). jsonschema-rs validates the same schemas in well
under a microsecond. It decides every verdict; the message of a refusal is still jsonschema's
(the one Connexion has always given, naming the field), made only for the rare invalid
instance. `tests/test_compiled_schemas.py` checks, for every schema of `openapi.yaml`, that
both accept and refuse exactly the same instances; the differences it found are handled
below and listed in the README.

OpenAPI 3.0 schemas are not quite JSON Schema Draft 4: Connexion's validators let `null`
through a `type` or an `enum` of a schema marked `nullable: true` (and refuse any
`writeOnly` property in an answer). `draft4()` writes those rules as plain Draft 4 for
jsonschema-rs.
"""

import threading

import jsonschema_rs
from connexion.json_schema import Draft4RequestValidator, Draft4ResponseValidator
from jsonschema import Draft4Validator, ValidationError

# What Connexion validates each kind of schema with (its own validator classes).
PYTHON_VALIDATORS = {
    "request": Draft4RequestValidator,  # request bodies: OpenAPI's nullable
    "response": Draft4ResponseValidator,  # answers: nullable, and writeOnly refused
    "parameter": Draft4Validator,  # parameters: plain Draft 4, as Connexion's
}

# Keywords whose value is a schema, a list of schemas, or a map of names to schemas.
_SCHEMA = ("additionalProperties", "additionalItems", "not", "items")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "items")
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "dependencies")


class UnsupportedSchema(ValueError):
    """A schema using a keyword whose meaning the two validators were not shown to share."""


def draft4(schema, kind: str):
    """`schema` as plain JSON Schema Draft 4, with Connexion's OpenAPI rules for `kind`
    (request, response, parameter) written out."""
    if not isinstance(schema, dict):
        return schema
    if "format" in schema:
        # The contract uses no format; the two packages check formats differently (email,
        # hostname, date-time depend on optional packages in jsonschema), so a format added
        # later must first be shown to agree by the differential test.
        raise UnsupportedSchema(f"format {schema['format']!r} is not supported")
    if "$ref" in schema:
        raise UnsupportedSchema("schemas are compiled with their references resolved")
    out = dict(schema)
    for keyword in _SCHEMA:
        if isinstance(out.get(keyword), dict):
            out[keyword] = draft4(out[keyword], kind)
    for keyword in _SCHEMA_LISTS:
        if isinstance(out.get(keyword), list):
            out[keyword] = [draft4(item, kind) for item in out[keyword]]
    for keyword in _SCHEMA_MAPS:
        if isinstance(out.get(keyword), dict):
            out[keyword] = {
                name: draft4(value, kind) if isinstance(value, dict) else value
                for name, value in out[keyword].items()
            }
    if kind != "parameter" and (out.get("nullable") is True or out.get("x-nullable") is True):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"] if "null" not in types else types
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    if kind == "response" and ("writeOnly" in out or "x-writeOnly" in out):
        # Connexion refuses any instance of such a schema in an answer.
        out = {"allOf": [out, {"not": {}}]}
    return out


class CompiledSchema:
    """A schema compiled once; `validate` raises jsonschema's ValidationError."""

    def __init__(self, schema: dict, kind: str) -> None:
        self.schema = schema
        self._fast = jsonschema_rs.Draft4Validator(draft4(schema, kind))
        self._python = PYTHON_VALIDATORS[kind](
            schema, format_checker=Draft4Validator.FORMAT_CHECKER
        )

    def is_valid(self, instance) -> bool:
        return self._fast.is_valid(instance)

    def validate(self, instance) -> None:
        if self._fast.is_valid(instance):
            return
        # The first error, as jsonschema's `validate` raises it (Connexion's messages).
        error = next(self._python.iter_errors(instance), None)
        if error is None:
            # jsonschema would have taken it; jsonschema-rs's verdict stands (the README lists
            # where they differ), with its own message.
            error = self._fast_error(instance)
        raise error

    def _fast_error(self, instance) -> ValidationError:
        fast = next(iter(self._fast.iter_errors(instance)))
        return ValidationError(
            fast.message,
            validator=fast.schema_path[-1] if fast.schema_path else None,
            path=fast.instance_path,
            instance=fast.instance,
        )


_compiled: dict[tuple[str, int], CompiledSchema] = {}
_lock = threading.Lock()


def compiled(schema: dict, kind: str) -> CompiledSchema:
    """The compiled validator of a schema of the contract. Schemas live as long as the app;
    the entry keeps its schema, so that its id cannot be reused by another."""
    key = (kind, id(schema))
    entry = _compiled.get(key)
    if entry is None or entry.schema is not schema:
        with _lock:
            entry = _compiled[key] = CompiledSchema(schema, kind)
    return entry
