"""Property: whatever a definition file holds, loading the folder gives errors, never an exception,
and the valid definition next to it still loads.

Inputs: arbitrary text over YAML's special characters, arbitrary data dumped as YAML
(shared values become anchors and aliases), nesting from shallow to far past the
budget, alias fan-outs, and random edits of a valid definition. Derandomized, so a
run is the same every time; the whole module takes well under a minute.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_batchtasks.definitions.catalog import load_catalog
from airflow_batchtasks.definitions.errors import DefinitionError

VALID = "kind: task\nname: fine\nsource: {type: sql, conn_id: db, query: select 1}\n"
SAMPLE = """kind: task
name: sample
schedule: "0 6 * * *"
params:
  region: &r {default: EU, description: Region}
  other: {<<: *r, default: US}
source:
  type: http
  conn_id: api
  endpoint: /users
  keep_response: true
  json: {ids: [1, 2, 3], nested: {deep: [a, {b: c}]}}
destinations:
  - {type: local, path: /tmp/out}
"""

FUZZ = settings(derandomize=True, database=None, deadline=None, max_examples=150,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

YAML_CHARS = st.sampled_from(list(":-?[]{},&*!|>'\"#%@` \n\t") + ["\n  ", "\n- ", ": ", "&a ", "*a", "---\n", "<<"])
yaml_ish_text = st.lists(YAML_CHARS | st.characters(), max_size=200).map("".join)

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=40,
)


def check_folder(text: str) -> None:
    """Load a folder of the valid definition plus ``text``: errors only, and the valid task is there."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "a_valid.yaml").write_text(VALID)  # sorted first: a name clash is blamed on the other file
        (root / "fuzz.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        for only in (None, "fine"):
            catalog = load_catalog(root, only=only)
            assert "fine" in catalog.tasks
            for err in catalog.errors + catalog.warnings:
                assert isinstance(err, DefinitionError)
                assert str(err).startswith(str(root)), str(err)


@FUZZ
@given(yaml_ish_text)
def test_arbitrary_text(text: str) -> None:
    check_folder(text)


@FUZZ
@given(data, st.sampled_from(["task", "project", "orchestration", None]))
def test_arbitrary_data_dumped_as_yaml(value: Any, kind: str | None) -> None:
    document = {"kind": kind, "name": "other", "x": value} if kind else value
    check_folder(yaml.safe_dump(document, allow_unicode=True))


@FUZZ
@given(data, st.integers(1, 9), st.integers(1, 12))
def test_shared_values_become_aliases_of_any_fan_out(value: Any, width: int, levels: int) -> None:
    """The dumper writes a value used twice as an anchor and aliases: up to 9**12 nodes once expanded."""
    node: Any = [value, "leaf"]
    for _ in range(levels):
        node = [node] * width
    check_folder(yaml.safe_dump({"kind": "task", "name": "shared", "source": {"type": "http", "json": node}}))


@FUZZ
@given(st.lists(st.sampled_from(["[", "{a: ", "- ", "{? ", "b:\n"]), min_size=1, max_size=3),
       st.integers(1, 20_000), st.booleans())
def test_nesting_of_any_depth(openers: list[str], depth: int, closed: bool) -> None:
    text = "".join(openers[i % len(openers)] for i in range(depth)) + "x"
    if closed:
        closers = {"[": "]", "{a: ": "}", "{? ": "}"}
        text += "".join(closers.get(openers[i % len(openers)], "") for i in reversed(range(depth)))
    check_folder(text + "\n")


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(SAMPLE)), st.integers(0, 3), yaml_ish_text), max_size=6))
def test_random_edits_of_a_valid_definition(edits: list[tuple[int, int, str]]) -> None:
    text = SAMPLE
    for at, cut, insert in edits:
        at = min(at, len(text))
        text = text[:at] + insert + text[at + cut:]
    check_folder(text)


def test_the_sample_is_valid() -> None:
    """The edits above start from a definition that loads (else they would only test errors)."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "sample.yaml").write_text(SAMPLE)
        catalog = load_catalog(folder)
    assert catalog.errors == [] and list(catalog.tasks) == ["sample"]
