"""Every example in `openapi.yaml` is valid against the schema it illustrates: tools that
generate requests or mock answers from the contract (Schemathesis' examples phase, Prism,
Dredd) send them as they are, and an example that breaks its schema teaches a client wrong."""

import copy
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS30Validator

SPEC = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "openapi.yaml").read_text(encoding="utf-8")
)


def resolve(node):
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def inline(schema):
    """The schema with every local $ref replaced by its target, for a validator that knows
    nothing of the document."""
    schema = resolve(schema)
    if isinstance(schema, dict):
        return {key: inline(value) for key, value in schema.items() if key != "example"}
    if isinstance(schema, list):
        return [inline(item) for item in schema]
    return schema


def examples():
    """(where, schema, example) for every example the contract gives."""
    found = []

    def media(where, content):
        for media_type, item in (content or {}).items():
            schema = item.get("schema")
            if schema is None:
                continue
            if "example" in item:
                found.append((f"{where} {media_type} example", schema, item["example"]))
            for name, example in (item.get("examples") or {}).items():
                example = resolve(example)
                if "value" in example:
                    found.append(
                        (f"{where} {media_type} examples.{name}", schema, example["value"])
                    )

    def parameter(where, parameter):
        # The Parameter Object's own `example`/`examples` overrides its schema's: it is the
        # value a request generator sends.
        parameter = resolve(parameter)
        where = f"{where} parameter {parameter['name']}"
        if "content" in parameter:
            media(where, parameter["content"])
            return
        schemas(where, parameter["schema"])
        if "example" in parameter:
            found.append((f"{where} example", parameter["schema"], parameter["example"]))
        for name, example in (parameter.get("examples") or {}).items():
            example = resolve(example)
            if "value" in example:
                found.append((f"{where} examples.{name}", parameter["schema"], example["value"]))

    def schemas(where, schema, seen=()):
        schema = resolve(schema)
        if not isinstance(schema, dict) or id(schema) in seen:
            return
        if "example" in schema:
            found.append((f"{where} schema example", schema, schema["example"]))
        for name, child in (schema.get("properties") or {}).items():
            schemas(f"{where}.{name}", child, (*seen, id(schema)))
        if "items" in schema:
            schemas(f"{where}[]", schema["items"], (*seen, id(schema)))
        for keyword in ("allOf", "oneOf", "anyOf"):
            for index, part in enumerate(schema.get(keyword, [])):
                schemas(f"{where}.{keyword}[{index}]", part, (*seen, id(schema)))

    for name, schema in SPEC["components"]["schemas"].items():
        schemas(f"components.schemas.{name}", schema)
    for name, item in (SPEC["components"].get("parameters") or {}).items():
        parameter(f"components.parameters.{name}", item)
    for name, response in SPEC["components"]["responses"].items():
        media(f"components.responses.{name}", response.get("content"))
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                operations = [("", {"parameters": operation})]
            else:
                operations = [(f" {method.upper()}", operation)]
            for label, op in operations:
                where = f"{path}{label}"
                for item in op.get("parameters", []):
                    parameter(where, item)
                body = resolve(op.get("requestBody", {}))
                media(f"{where} requestBody", body.get("content"))
                for status, response in (op.get("responses") or {}).items():
                    media(f"{where} {status}", resolve(response).get("content"))
    return found


EXAMPLES = examples()


def test_the_contract_has_examples():
    assert len(EXAMPLES) > 20


def test_every_parameter_has_its_own_example():
    """Tools that fill in a request (Dredd among them) read the Parameter Object's `example`
    and not its schema's: a parameter without one leaves them nothing to send."""
    parameters = list((SPEC["components"].get("parameters") or {}).items())
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            for parameter in (
                operation if method == "parameters" else operation.get("parameters", [])
            ):
                parameters.append((f"{path} {method}", parameter))
    missing = [
        f"{where} {resolve(parameter)['name']}"
        for where, parameter in parameters
        if "example" not in resolve(parameter) and not resolve(parameter).get("examples")
    ]
    assert parameters and not missing, "parameters without an example: " + ", ".join(missing)


@pytest.mark.parametrize(("where", "schema", "example"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_is_valid_against_its_schema(where, schema, example):
    errors = sorted(OAS30Validator(inline(copy.deepcopy(schema))).iter_errors(example), key=str)
    assert not errors, f"{where}: " + "; ".join(e.message for e in errors)
