"""How a definition error reads, and field paths in both directions."""

from __future__ import annotations

import pytest

from airflow_batchtasks.definitions.errors import DefinitionError, DefinitionsInvalid, format_field, parse_field


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (DefinitionError("a.yaml", 7, "output.format", "bad"), "a.yaml:7: output.format: bad"),
        (DefinitionError("a.yaml", 0, "", "cannot read file"), "a.yaml: cannot read file"),
        (DefinitionError("a.yaml", 3, "", "invalid YAML: x"), "a.yaml:3: invalid YAML: x"),
        (DefinitionError("a.yaml", 3, "source", "hm", severity="warning"), "a.yaml:3: warning: source: hm"),
    ],
)
def test_error_text(error: DefinitionError, text: str) -> None:
    assert str(error) == text


def test_definitions_invalid_lists_every_error() -> None:
    errors = [DefinitionError("a.yaml", 1, "name", "one"), DefinitionError("b.yaml", 2, "kind", "two")]

    exc = DefinitionsInvalid(errors)

    assert str(exc) == "a.yaml:1: name: one\nb.yaml:2: kind: two"
    assert exc.errors == errors


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("destinations", 0, "type"), "destinations[0].type"),
        (("steps", 12), "steps[12]"),
        (("output", "gpg", "recipient"), "output.gpg.recipient"),
        (("matrix", 1, 2, "x"), "matrix[1][2].x"),
        (("name",), "name"),
        ((), ""),
    ],
)
def test_field_paths_round_trip(path: tuple, text: str) -> None:
    assert format_field(path) == text
    assert parse_field(text) == path
