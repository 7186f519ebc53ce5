"""Parsing definitions is bounded: size, depth and aliases-expanded size each give an error, never a crash.

Before the budget, a 500-byte alias bomb ran for minutes (every walk of the data
expanded 9**7 nodes), 2,000 levels of nesting raised RecursionError, and 60,000
levels killed the process in libyaml's recursive composer (SIGSEGV).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from airflow_batchtasks.definitions.catalog import load_catalog
from airflow_batchtasks.definitions.yaml_source import (
    BUDGET,
    Budget,
    BudgetExceeded,
    compose_documents,
    load_documents,
    parse_documents,
)

VALID = "kind: task\nname: fine\nsource: {type: sql, conn_id: db, query: select 1}\n"


def alias_bomb(levels: int = 7, width: int = 9) -> str:
    """A valid-looking http task whose `json:` doubles as a billion-laughs bomb (width**levels strings)."""
    lines = ["a0: &a0 [x, y, z, w, v, u, t, s, r]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, levels + 1)]
    return ("kind: task\nname: bomb\nsource:\n  type: http\n  conn_id: api\n  endpoint: /x\n  json:\n"
            + "".join(f"    {line}\n" for line in lines))


def test_alias_bomb_is_refused_at_once_with_where_and_which_definition() -> None:
    text = alias_bomb()
    assert len(text) < 600

    started = time.perf_counter()
    docs, errors = parse_documents(text, "defs/bomb.yaml")

    assert time.perf_counter() - started < 1.0
    assert docs == []
    assert [str(e) for e in errors] == [
        "defs/bomb.yaml:12: source.json.a4[5]: more than 50,000 values, aliases expanded "
        "(the limit for one definition)"
    ]
    # the name and kind were read before the bomb: the task's DAG keeps its id and shows the error
    assert (errors[0].name, errors[0].kind) == ("bomb", "task")


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("[" * 2000 + "]" * 2000, 1, "[0][0][0][0][0][0][0][0]..."),
        ("kind: task\n" + "".join(" " * i + f"k{i}:\n" for i in range(2000)) + " " * 2000 + "x\n", 66,
         "k0.k1.k2.k3.k4.k5.k6.k7..."),
        ("a: " + "{b: " * 2000 + "1" + "}" * 2000 + "\n", 1, "a.b.b.b.b.b.b.b..."),
    ],
    ids=["flow-lists", "block-mappings", "flow-mappings"],
)
def test_deep_nesting_is_refused_with_the_line_where_it_goes_too_deep(text: str, line: int, field: str) -> None:
    docs, errors = parse_documents(text, "deep.yaml")

    assert docs == []
    assert [(e.line, e.field, e.message) for e in errors] == [
        (line, field, "nested deeper than 64 levels (the limit for a definition)")
    ]


def test_nesting_deep_enough_to_crash_libyaml_is_refused_in_a_fresh_process() -> None:
    """60,000 levels (120 KB) used to end the process with SIGSEGV: a subprocess shows an error line instead."""
    code = (
        "from airflow_batchtasks.definitions.yaml_source import parse_documents\n"
        "for text in ('[' * 60000 + ']' * 60000, ''.join('- ' * 60000) + 'x\\n'):\n"
        "    docs, errors = parse_documents(text, 'deep.yaml')\n"
        "    print(docs, [str(e) for e in errors])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    expected = ("[] ['deep.yaml:1: [0][0][0][0][0][0][0][0]...: "
                "nested deeper than 64 levels (the limit for a definition)']")
    assert done.stdout.splitlines() == [expected, expected]


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    docs, errors = parse_documents("kind: task\nname: loop\nsource: &s {type: http, json: [*s]}\n", "x.yaml")

    assert docs == []
    assert [str(e) for e in errors] == [
        "x.yaml:3: source.json[0]: alias `*s` is used inside its own anchor (an endless structure)"
    ]


def test_limits_are_exact_and_count_each_alias_as_its_whole_value() -> None:
    budget = Budget(max_depth=3, max_nodes=10)
    # 1 mapping + 2 keys + a 3-item list = 7 nodes; a second use of the list via its alias: 4 more
    within = "a: &l [1, 2, 3]\n"
    over = within + "b: *l\n"

    assert [node.value[0][0].value for _, node in compose_documents(within, budget)] == ["a"]
    with pytest.raises(BudgetExceeded, match="more than 10 values"):
        list(compose_documents(over, budget))
    assert len(list(compose_documents("[[[1]]]", budget))) == 1
    with pytest.raises(BudgetExceeded, match="nested deeper than 3 levels"):
        list(compose_documents("[[[[1]]]]", budget))


def test_anchors_and_merge_keys_within_budget_still_work() -> None:
    text = ("kind: task\nname: t\nparams:\n  base: &base {default: EU, description: Region}\n"
            "  other: {<<: *base, default: US}\n")

    (doc,), errors = parse_documents(text, "x.yaml")

    assert errors == []
    assert doc.data["params"] == {"base": {"default": "EU", "description": "Region"},
                                  "other": {"default": "US", "description": "Region"}}
    assert doc.lines[("params", "other")] == 5


def test_yaml_errors_of_the_composer_are_kept() -> None:
    _, undefined = parse_documents("a: *nope\n", "x.yaml")
    _, duplicate = parse_documents("a: &x 1\nb: &x 2\n", "x.yaml")

    assert [str(e) for e in undefined] == ["x.yaml:1: invalid YAML: found undefined alias 'nope'"]
    assert [str(e) for e in duplicate] == ["x.yaml:2: invalid YAML: second occurrence"]


def test_documents_before_an_over_budget_one_are_kept() -> None:
    docs, errors = parse_documents(VALID + "---\n" + "[" * 100 + "]" * 100 + "\n", "x.yaml")

    assert [d.data["name"] for d in docs] == ["fine"]
    assert [e.line for e in errors] == [5]


def test_a_file_over_the_size_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as fh:  # sparse: the size is there, the bytes are not
        fh.truncate(BUDGET.max_bytes + 1)

    docs, errors = load_documents(path, "huge.yaml")

    assert docs == []
    assert [str(e) for e in errors] == ["huge.yaml: the file is 8.0 MB, over the 8.0 MB limit for a definition file"]


def test_an_api_body_over_the_size_limit_is_refused() -> None:
    docs, errors = parse_documents("a: " + "x" * BUDGET.max_bytes + "\n", "<body>")

    assert docs == []
    assert [str(e) for e in errors] == ["<body>: 8.0 MB of YAML, over the 8.0 MB limit for a definition file"]


def test_a_bomb_in_the_folder_hides_no_other_definition(tmp_path: Path) -> None:
    (tmp_path / "bomb.yaml").write_text(alias_bomb())
    (tmp_path / "deep.yaml").write_text("[" * 60000 + "]" * 60000)
    (tmp_path / "fine.yaml").write_text(VALID)

    catalog = load_catalog(tmp_path)

    assert list(catalog.tasks) == ["fine"]
    assert sorted((Path(e.file).name, e.name) for e in catalog.errors) == [("bomb.yaml", "bomb"), ("deep.yaml", None)]


#: 3 levels of 35 aliases: 44,136 values expanded, under the per-document limit, in a few hundred bytes.
NEST = ("kind: task\nname: t{i}\nsource:\n  type: http\n  conn_id: c\n  endpoint: /x\n  json:\n"
        "    a: &a{i} [" + ", ".join(["1"] * 35) + "]\n"
        "    b: &b{i} [" + ", ".join(["*a{i}"] * 35) + "]\n"
        "    c: [" + ", ".join(["*b{i}"] * 35) + "]\n")


def test_aliases_under_the_limit_are_indexed_once_not_once_per_use() -> None:
    [doc], errors = parse_documents(NEST.format(i=0), "nest.yaml")
    assert errors == []
    assert len(doc.lines) < 200, "each aliased collection indexed once (was 45,000 paths per document)"


def test_many_documents_each_under_the_limit_are_refused_in_all() -> None:
    text = "---\n".join(NEST.format(i=i) for i in range(40))  # 40 x 44,136 values: over 1,000,000 in all
    started = time.perf_counter()
    docs, [error] = parse_documents(text, "many.yaml")
    assert time.perf_counter() - started < 5
    assert len(docs) == 22 and "more than 1,000,000 values in all" in str(error)
    assert str(error).startswith("many.yaml:")


def test_an_api_body_stops_at_its_second_document() -> None:
    text = "---\n".join(NEST.format(i=i) for i in range(3))
    docs, [error] = parse_documents(text, "<body>", max_documents=1)
    assert len(docs) == 1 and "expected at most 1 YAML document" in str(error)
