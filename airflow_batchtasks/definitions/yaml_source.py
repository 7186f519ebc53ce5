"""YAML documents with the line of every key kept, loaded safely.

PyYAML's safe constructor gives plain data but forgets positions; the composed
node tree has them. We compose once, construct the data from the same nodes,
and index each key path to its line so pydantic's error locations can be
turned into ``file:line:field``. The C loader is used when libyaml is present
because parse time matters with thousands of definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airflow_batchtasks.definitions.errors import DefinitionError, format_field

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[str | int, ...]


@dataclass
class Document:
    """One YAML document of a definition file."""

    file: str
    data: Any
    line: int
    text: str
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """Line of the deepest known prefix of ``path`` (a missing key points at its parent)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line:
                return line
        return self.line


def _index(node: yaml.Node, path: Path_, lines: dict[Path_, int], errors: list[tuple[Path_, int, str]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                errors.append((path + (key,), key_node.start_mark.line + 1, f"duplicate key `{key}`"))
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _index(value_node, path + (key,), lines, errors)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _index(item, path + (i,), lines, errors)


def load_documents(path: Path, display: str | None = None) -> tuple[list[Document], list[DefinitionError]]:
    """Load every document of ``path``; a syntax error becomes a DefinitionError, never an exception."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [DefinitionError(name, 0, "", f"cannot read file: {exc}")]
    return parse_documents(text, name)


def parse_documents(text: str, name: str) -> tuple[list[Document], list[DefinitionError]]:
    """Parse YAML text (from a file or an API body) into documents with line indexes."""
    docs: list[Document] = []
    errors: list[DefinitionError] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            data = loader.construct_document(node)
            if data is None:  # an empty document, e.g. after a trailing `---`
                continue
            lines: dict[Path_, int] = {(): node.start_mark.line + 1}
            dupes: list[tuple[Path_, int, str]] = []
            _index(node, (), lines, dupes)
            source = text[node.start_mark.index : node.end_mark.index]
            docs.append(Document(name, data, node.start_mark.line + 1, source, lines))
            for path, line, msg in dupes:
                errors.append(DefinitionError(name, line, format_field(path), msg))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        errors.append(DefinitionError(name, line, "", f"invalid YAML: {exc.problem or exc}"))
    except yaml.YAMLError as exc:
        errors.append(DefinitionError(name, 0, "", f"invalid YAML: {exc}"))
    finally:
        loader.dispose()
    return docs, errors
