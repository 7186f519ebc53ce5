"""The JSON Schema editors use: generated from the models, strict about unknown keys."""

from __future__ import annotations

import json
from typing import Any

from airflow_batchtasks.definitions.schema import definition_schema


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_schema_is_json_with_the_three_kinds() -> None:
    schema = json.loads(json.dumps(definition_schema()))

    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert {ref["$ref"] for ref in schema["oneOf"]} == {
        "#/$defs/Project",
        "#/$defs/Task",
        "#/$defs/Orchestration",
    }
    assert schema["discriminator"]["propertyName"] == "kind"
    assert set(schema["$defs"]["Task"]["required"]) == {"kind", "name", "source"}


def test_every_object_rejects_unknown_keys() -> None:
    schema = definition_schema()

    objects = [n for n in _walk(schema) if n.get("type") == "object" and "properties" in n]
    assert objects, "no object definitions in the schema"
    assert all(n.get("additionalProperties") is False for n in objects)


def test_schema_uses_the_yaml_key_names() -> None:
    defs = definition_schema()["$defs"]

    assert "from" in defs["Processing"]["properties"] and "from_" not in defs["Processing"]["properties"]
    assert "json" in defs["HttpSource"]["properties"]
    assert defs["Task"]["properties"]["name"]["pattern"].startswith("^[A-Za-z0-9_]")
    assert set(defs["Output"]["properties"]["format"]["enum"]) == {"csv", "tsv", "pipe", "text", "keep"}
