"""YAML parsing with the line of every key, safely, with syntax errors as values."""

from __future__ import annotations

from pathlib import Path

from airflow_batchtasks.definitions.yaml_source import load_documents, parse_documents


def test_lines_of_keys_and_list_items() -> None:
    (doc,), errors = parse_documents("# header\nkind: task\nsteps:\n  - task: a\n  -\n    task: b\n", "x.yaml")

    assert errors == []
    assert doc.line == 2
    assert doc.lines[("kind",)] == 2
    assert doc.lines[("steps", 0)] == 4 and doc.lines[("steps", 0, "task")] == 4
    assert doc.lines[("steps", 1, "task")] == 6
    # A key that is not there points at its deepest existing parent.
    assert doc.line_of(("steps", 1, "starts_after")) == 6
    assert doc.line_of(("nope", "deeper")) == 2


def test_each_document_keeps_its_own_text_and_start_line() -> None:
    docs, errors = parse_documents("a: 1\n---\nb: 2\nc: 3\n", "x.yaml")

    assert errors == []
    assert [(d.line, d.text.strip(), d.data) for d in docs] == [
        (1, "a: 1", {"a": 1}),
        (3, "b: 2\nc: 3", {"b": 2, "c": 3}),
    ]


def test_unsafe_tags_are_rejected_not_executed() -> None:
    docs, errors = parse_documents("kind: !!python/object/apply:os.system ['touch /tmp/pwned']\n", "x.yaml")

    assert docs == []
    assert len(errors) == 1 and errors[0].line == 1
    assert errors[0].message.startswith("invalid YAML: could not determine a constructor for the tag")


def test_documents_before_a_syntax_error_are_kept() -> None:
    docs, errors = parse_documents("a: 1\n---\nb: [2\n", "x.yaml")

    assert [d.data for d in docs] == [{"a": 1}]
    assert [str(e) for e in errors] == ["x.yaml:4: invalid YAML: did not find expected ',' or ']'"]


def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))

    docs, errors = load_documents(path)

    assert docs == []
    assert len(errors) == 1 and str(errors[0]).startswith(f"{path}: cannot read file: ")
