"""A small, hostile-input-proof XML reader that keeps each element's line.

Why not ``xml.etree``: its elements do not know their line, and an importer must say *where* an
element it cannot map is. Why not a plain expat parse either: a definitions export comes from
another system and may be edited by hand or crafted, and a document type declaration is what
"billion laughs" (nested entity expansion) and external-entity reads (XXE) need. Memority's
exports have no DOCTYPE, so any DOCTYPE, entity or external reference is refused outright, before a
single entity is expanded: the error is immediate, whatever the expansion would have cost.
The file size is bounded too, and so is the nesting depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

#: Far above any orchestration export (a few KB each); refused before being read into memory.
MAX_BYTES = 10 * 1024 * 1024
#: An orchestration definition nests 4 levels; a deep document is hostile or not Memority's.
MAX_DEPTH = 64


class XmlError(Exception):
    """The file cannot be read as XML (or is refused): the message says where and why."""

    def __init__(self, file: str, line: int, message: str):
        self.file, self.line, self.message = file, line, message
        super().__init__(f"{file}:{line}: {message}" if line else f"{file}: {message}")


@dataclass
class Element:
    """One XML element: local name, namespace URI, attributes, text (stripped), children, line."""

    tag: str
    namespace: str
    attrs: dict[str, str]
    line: int
    children: list[Element] = field(default_factory=list)
    text: str = ""

    def find(self, tag: str) -> Element | None:
        """First child with local name ``tag``."""
        return next((c for c in self.children if c.tag == tag), None)


class _Refused(Exception):
    """Raised from inside expat handlers; turned into XmlError with expat's current line."""


def _split(name: str) -> tuple[str, str]:
    uri, _, local = name.rpartition("\x1f")
    return uri, local


def parse_xml(data: bytes, file: str) -> Element:
    """Parse ``data`` into a tree of :class:`Element`; any DOCTYPE or entity declaration is refused."""
    if len(data) > MAX_BYTES:
        raise XmlError(file, 0, f"the file is over the {MAX_BYTES // (1024 * 1024)} MB limit of an import")
    parser = expat.ParserCreate(namespace_separator="\x1f")
    stack: list[Element] = []
    texts: list[list[str]] = []
    root: list[Element] = []

    def refuse_doctype(*_args: object) -> None:
        raise _Refused("a DOCTYPE (document type declaration) is refused: Memority exports have none, and it is "
                       "what entity-expansion (billion laughs) and external-entity attacks need")

    def refuse_entity(*_args: object) -> None:
        raise _Refused("entity declarations and references are refused in an import file")

    def start(name: str, attrs: dict[str, str]) -> None:
        if len(stack) >= MAX_DEPTH:
            raise _Refused(f"elements nested deeper than {MAX_DEPTH} levels are refused")
        uri, local = _split(name)
        element = Element(local, uri, {_split(k)[1]: v for k, v in attrs.items()}, parser.CurrentLineNumber)
        if stack:
            stack[-1].children.append(element)
        else:
            root.append(element)
        stack.append(element)
        texts.append([])

    def end(_name: str) -> None:
        element = stack.pop()
        element.text = "".join(texts.pop()).strip()

    def chars(data: str) -> None:
        if texts:
            texts[-1].append(data)

    parser.StartDoctypeDeclHandler = refuse_doctype
    parser.EntityDeclHandler = refuse_entity
    parser.UnparsedEntityDeclHandler = refuse_entity
    parser.ExternalEntityRefHandler = refuse_entity  # type: ignore[assignment]
    parser.SkippedEntityHandler = refuse_entity
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise XmlError(file, parser.CurrentLineNumber, str(exc)) from None
    except expat.ExpatError as exc:
        raise XmlError(file, exc.lineno, f"not well-formed XML: {expat.ErrorString(exc.code)} "
                                         f"(column {exc.offset + 1})") from None
    return root[0]


def read_xml(path: Path) -> Element:
    """Read and parse ``path``, with the size checked before the file is read."""
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise XmlError(file, 0, f"the file is over the {MAX_BYTES // (1024 * 1024)} MB limit of an import")
        data = path.read_bytes()
    except OSError as exc:
        raise XmlError(file, 0, f"cannot read file: {exc.strerror or exc}") from None
    return parse_xml(data, file)
