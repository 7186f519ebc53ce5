"""YAML documents with the line of every key kept, loaded safely and within a budget.

PyYAML's safe constructor gives plain data but forgets positions; the composed
node tree has them. We compose once, construct the data from the same nodes,
and index each key path to its line so pydantic's error locations can be
turned into ``file:line:field``. The C parser is used when libyaml is present
because parse time matters with thousands of definitions.

Definitions come from anyone who may write a file or call the API, so parsing
is bounded (:class:`Budget`): file size, nesting depth, and the number of nodes
of each document *after* alias expansion (a few hundred bytes of nested aliases
otherwise expand to billions of nodes, and every later walk of the data pays
for it). The node tree is composed here, iteratively, from the parser's event
stream rather than by libyaml's composer, which recurses in C and crashes the
process (no Python exception) on input nested some ten thousand levels deep:
depth and expanded size are counted as the events arrive, so an over-budget
document is refused before any deep structure exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import (
    AliasEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from airflow_batchtasks.definitions.errors import DefinitionError, format_field

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Budget:
    """What one definition file may cost to parse.

    The defaults are far above any real definition (a task is a few dozen nodes,
    nested under ten levels) and far below what hurts a server.

    :param max_bytes: size of a file (or an API body's YAML text)
    :param max_depth: nesting of collections (mappings and lists) in a document
    :param max_nodes: nodes of one document, each use of an alias counting its whole anchored value
    :param max_text_nodes: the same count summed over every document of a file or body (many documents
        each under ``max_nodes`` would otherwise add up: validation walks each one's expanded data)
    """

    max_bytes: int = 8 * 1024 * 1024
    max_depth: int = 64
    max_nodes: int = 50_000
    max_text_nodes: int = 1_000_000


BUDGET = Budget()


class BudgetExceeded(yaml.MarkedYAMLError):
    """A document over the parse :class:`Budget` (a YAML error, so any YAML error handler refuses it too).

    :param path: where in the document the limit was reached (for the error's field)
    :param name: the document's ``name``, when it came before the problem (so its DAG keeps its id)
    :param kind: the document's ``kind``, likewise
    """

    def __init__(self, problem: str, mark: yaml.Mark | None, path: Path_ = (), name: str | None = None,
                 kind: str | None = None) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.path = path
        self.name = name
        self.kind = kind


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


# ----------------------------------------------------------------------------- composing


_FIELD_LEVELS = 8


class _Frame:
    """A collection being composed: its node, anchor, expanded node count, and a pending mapping key."""

    __slots__ = ("anchor", "count", "key", "node")

    def __init__(self, node: Node, anchor: str | None) -> None:
        self.node = node
        self.anchor = anchor
        self.count = 1
        self.key: Node | None = None


def _where(stack: list[_Frame]) -> Path_:
    """Key path of the node being composed (what a budget error names as its field, first levels only)."""
    path: list[str | int] = []
    for frame in stack[:_FIELD_LEVELS]:
        if isinstance(frame.node, MappingNode):
            if frame.key is None:
                break  # at a key, not under one
            path.append(frame.key.value if isinstance(frame.key, ScalarNode) else "?")
        else:
            path.append(len(frame.node.value))
    return tuple(path)


def _top_level(stack: list[_Frame], key: str) -> str | None:
    """A top-level scalar of the document being composed, if already read (``name``, ``kind``)."""
    if not stack or not isinstance(stack[0].node, MappingNode):
        return None
    for key_node, value_node in stack[0].node.value:
        if key_node.value == key and isinstance(value_node, ScalarNode):
            return str(value_node.value)
    return None


def _compose_document(loader: Any, budget: Budget) -> tuple[Node, int]:
    """The next document's node tree and its node count (aliases expanded), composed without recursion and
    within ``budget``.

    Mirrors PyYAML's composer (tags resolved the same way, duplicate anchors and
    undefined aliases refused) and adds the budget: ``max_depth`` is checked when
    a collection opens, ``max_nodes`` counts every node plus, for each alias, the
    node count of its anchored value. An alias inside its own anchor (a cycle) is
    refused: the data would be infinite once expanded.
    """
    get_event, resolve = loader.get_event, loader.resolve
    max_depth, max_nodes = budget.max_depth, budget.max_nodes
    anchors: dict[str, tuple[Node, int | None]] = {}
    stack: list[_Frame] = []
    total = 0  # nodes of the document so far, aliases expanded
    over_nodes = f"more than {max_nodes:,} values, aliases expanded (the limit for one definition)"

    def refuse(problem: str, mark: yaml.Mark) -> BudgetExceeded:
        return BudgetExceeded(problem, mark, _where(stack), _top_level(stack, "name"), _top_level(stack, "kind"))

    def anchor_at(anchor: str | None, node: Node, count: int | None) -> None:
        if anchor is not None:
            if anchor in anchors:
                raise ComposerError(f"found duplicate anchor {anchor!r}; first occurrence",
                                    anchors[anchor][0].start_mark, "second occurrence", node.start_mark)
            anchors[anchor] = (node, count)

    get_event()  # DocumentStartEvent
    scalar_event, alias_event, mapping_start = ScalarEvent, AliasEvent, MappingStartEvent
    while True:
        event = get_event()
        cls = event.__class__
        if cls is scalar_event:
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(ScalarNode, event.value, event.implicit)
            node: Node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
            if event.anchor is not None:
                anchor_at(event.anchor, node, 1)
            count = 1
            total += 1
        elif cls is alias_event:
            known = anchors.get(event.anchor)
            if known is None:
                raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
            node, expanded = known
            if expanded is None:
                raise refuse(f"alias `*{event.anchor}` is used inside its own anchor (an endless structure)",
                             event.start_mark)
            count = expanded
            total += expanded
        elif cls is mapping_start or cls is SequenceStartEvent:
            if len(stack) >= max_depth:
                raise refuse(f"nested deeper than {max_depth} levels (the limit for a definition)",
                             event.start_mark)
            kind = MappingNode if cls is mapping_start else SequenceNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(kind, None, event.implicit)
            node = kind(tag, [], event.start_mark, None, event.flow_style)
            if event.anchor is not None:
                anchor_at(event.anchor, node, None)
            stack.append(_Frame(node, event.anchor))
            total += 1
            if total > max_nodes:
                raise refuse(over_nodes, event.start_mark)
            continue
        else:  # MappingEndEvent / SequenceEndEvent: the innermost collection is complete
            frame = stack.pop()
            node, count = frame.node, frame.count
            node.end_mark = event.end_mark
            if frame.anchor is not None:
                anchors[frame.anchor] = (node, count)
        if total > max_nodes:
            raise refuse(over_nodes, event.start_mark)
        if not stack:
            get_event()  # DocumentEndEvent
            return node, total
        parent = stack[-1]
        parent.count += count
        if parent.node.__class__ is MappingNode:
            if parent.key is None:
                parent.key = node
            else:
                parent.node.value.append((parent.key, node))
                parent.key = None
        else:
            parent.node.value.append(node)


def compose_documents(text: str, budget: Budget = BUDGET) -> Iterator[tuple[Any, Node]]:
    """``(loader, root node)`` of each document of ``text``, composed within ``budget``.

    Raises :class:`BudgetExceeded` or another ``yaml.YAMLError`` at the first
    document that is over budget or invalid (the documents before it were yielded).
    The loader is the one to construct the node's data with while iterating.
    """
    if len(text) > budget.max_bytes:
        raise BudgetExceeded(f"{_megabytes(len(text))} of YAML, over the {_megabytes(budget.max_bytes)} limit "
                             "for a definition file", None)
    loader = _Loader(text)
    spent = 0
    try:
        if loader.check_event(StreamStartEvent):
            loader.get_event()
        while not loader.check_event(StreamEndEvent):
            node, count = _compose_document(loader, budget)
            spent += count
            if spent > budget.max_text_nodes:
                raise BudgetExceeded(f"more than {budget.max_text_nodes:,} values in all, aliases expanded (the "
                                     "limit for one file)", node.start_mark)
            yield loader, node
    finally:
        loader.dispose()


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


# ----------------------------------------------------------------------------- indexing


def _index(root: Node, lines: dict[Path_, int], errors: list[tuple[Path_, int, str]]) -> None:
    """Record the line of every key path under ``root`` and its duplicate keys (a walk, not a recursion).

    Paths below an alias are not indexed (an error there points at the alias's own key): indexing every
    expanded path would cost what the alias saves, up to the whole node budget per document.
    """
    todo: list[tuple[Node, Path_]] = [(root, ())]
    visited: set[int] = set()  # a collection reached again through an alias is indexed once, not once per use
    while todo:
        node, path = todo.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        if isinstance(node, MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    continue  # the constructor refuses such keys
                key = key_node.value
                if key in seen:
                    errors.append((path + (key,), key_node.start_mark.line + 1, f"duplicate key `{key}`"))
                seen.add(key)
                lines[path + (key,)] = key_node.start_mark.line + 1
                todo.append((value_node, path + (key,)))
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                lines[path + (i,)] = item.start_mark.line + 1
                todo.append((item, path + (i,)))
    errors.sort(key=lambda e: e[1])


# ----------------------------------------------------------------------------- loading


def load_documents(path: Path, display: str | None = None) -> tuple[list[Document], list[DefinitionError]]:
    """Load every document of ``path``; a syntax error becomes a DefinitionError, never an exception."""
    name = display or str(path)
    try:
        size = path.stat().st_size
        if size > BUDGET.max_bytes:  # refused before it is read into memory
            return [], [DefinitionError(name, 0, "", f"the file is {_megabytes(size)}, over the "
                                                     f"{_megabytes(BUDGET.max_bytes)} limit for a definition file")]
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [DefinitionError(name, 0, "", f"cannot read file: {exc}")]
    return parse_documents(text, name)


def parse_documents(
    text: str, name: str, *, max_documents: int | None = None
) -> tuple[list[Document], list[DefinitionError]]:
    """Parse YAML text (from a file or an API body) into documents with line indexes.

    ``max_documents``: stop at the first document beyond it, with an error (an API body holds one
    definition: composing the thousands more it may carry would be work for nothing).
    """
    docs: list[Document] = []
    errors: list[DefinitionError] = []
    composed = 0
    try:
        for loader, node in compose_documents(text):
            composed += 1
            if max_documents is not None and composed > max_documents:
                errors.append(DefinitionError(name, node.start_mark.line + 1, "",
                                              f"expected at most {max_documents} YAML document(s)"))
                break
            lines: dict[Path_, int] = {(): node.start_mark.line + 1}
            dupes: list[tuple[Path_, int, str]] = []
            _index(node, lines, dupes)  # before constructing: merge keys (`<<: *x`) rewrite the nodes
            data = loader.construct_document(node)
            if data is None:  # an empty document, e.g. after a trailing `---`
                continue
            source = text[node.start_mark.index : node.end_mark.index]
            docs.append(Document(name, data, node.start_mark.line + 1, source, lines))
            for path, line, msg in dupes:
                errors.append(DefinitionError(name, line, format_field(path), msg))
    except BudgetExceeded as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 0
        where = format_field(exc.path) + ("..." if len(exc.path) >= _FIELD_LEVELS else "")
        errors.append(DefinitionError(name, line, where, str(exc.problem),
                                      name=exc.name, kind=exc.kind))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        errors.append(DefinitionError(name, line, "", f"invalid YAML: {exc.problem or exc}"))
    except yaml.YAMLError as exc:
        errors.append(DefinitionError(name, 0, "", f"invalid YAML: {exc}"))
    return docs, errors
