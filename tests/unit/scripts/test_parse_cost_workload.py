"""The parse benchmark's workload (benchmarks/parse_cost.py): its orchestrations and its equivalence summary.

The benchmark compares parse times of the same DAGs written three ways; a timing is only worth
something if the three ways build the same DAGs, so the pure parts that generate and compare them
are tested here, in process, with the real loader, without timing anything.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from airflow.sdk import DAG

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "parse_cost.py"


@pytest.fixture(scope="module")
def pc() -> ModuleType:
    spec = importlib.util.spec_from_file_location("parse_cost_under_test", BENCHMARK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def test_default_count_is_two_per_thousand_tasks(pc: ModuleType) -> None:
    assert [pc.default_orchestrations(n) for n in (20, 1000, 10_000, 30_000)] == [0, 2, 20, 60]


def test_orchestrations_chain_different_tasks_and_cover_every_variant(pc: ModuleType) -> None:
    groups = pc.make_specs(100, 10, 5)
    orchs = pc.make_orchestrations(groups, 20)

    tasks = [step.task for o in orchs for step in o.steps]
    assert len(tasks) == len(set(tasks)) == 20 * pc.STEPS_PER_ORCHESTRATION
    assert {o.name for o in orchs} == {f"bench_chain{k:03d}" for k in range(20)}
    assert {(bool(o.cron), bool(o.once), o.active) for o in orchs} == {
        (True, False, True), (False, True, True), (False, False, True), (True, False, False)}
    assert {bool(o.time_limit) for o in orchs} == {True, False} and {bool(o.duration_limit_h) for o in orchs} == {
        True, False}
    assert not [o for o in orchs if o.time_limit and o.duration_limit_h]  # exclusive in the model
    steps = [s for o in orchs for s in o.steps]
    assert any(s.run_on_parent_failure for s in steps) and any(s.starts_after and s.timezone for s in steps)
    assert any(s.starts_after and not s.timezone for s in steps)
    # a chain is written in the file of its first task, and chains spread over several files
    by_name = {s.name: i for i, g in enumerate(groups) for s in g}
    assert all(o.file == by_name[o.steps[0].task] for o in orchs)
    assert len({o.file for o in orchs}) > 1

    with pytest.raises(ValueError, match="need 105 tasks"):
        pc.make_orchestrations(groups, 21)


def _ours(pc: ModuleType, root: Path, groups: list[Any], orchs: list[Any]) -> dict[str, Any]:
    from airflow_batchtasks.dag_factory import load_dags

    pc.write_ours(root / "ours", groups, orchs)
    namespace: dict[str, Any] = {}
    load_dags(namespace, root / "ours" / "definitions")
    return pc.workload_dags({k: v for k, v in namespace.items() if isinstance(v, DAG)})


def _plain(pc: ModuleType, root: Path, groups: list[Any], orchs: list[Any]) -> dict[str, Any]:
    folder = pc.write_plain(root / "plain", groups, 2, orchs)
    dags: dict[str, Any] = {}
    for module in sorted(folder.glob("*.py")):
        dags.update({k: v for k, v in runpy.run_path(str(module)).items() if isinstance(v, DAG)})
    return dags


def test_plain_orchestration_dags_equal_the_loaders_and_a_difference_is_caught(
    pc: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = pc.make_specs(pc.VERIFY_TASKS, 5, 2)
    orchs = pc.make_orchestrations(groups, pc.VERIFY_ORCHESTRATIONS)
    monkeypatch.setenv("AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER", str(tmp_path / "ours" / "definitions"))
    ours = _ours(pc, tmp_path, groups, orchs)
    plain = _plain(pc, tmp_path, groups, orchs)

    assert sorted(ours) == sorted(plain)
    chains = [name for name in plain if name.startswith("bench_chain")]
    assert len(chains) == pc.VERIFY_ORCHESTRATIONS
    for name in plain:
        assert pc.dag_summary(plain[name]) == pc.dag_summary(ours[name]), name
    chain = plain["bench_chain000"]
    assert chain.task_ids[-1] == "report" and len(chain.task_ids) == pc.STEPS_PER_ORCHESTRATION + 1

    # the same workload with one step condition flipped in the plain code: the summary must differ
    flipped = pc.plain_orchestration

    def mutated(orch: Any) -> dict[str, Any]:
        spec = flipped(orch)
        spec["steps"][2]["run_on_parent_failure"] = not spec["steps"][2]["run_on_parent_failure"]
        return spec

    monkeypatch.setattr(pc, "plain_orchestration", mutated)
    other = _plain(pc, tmp_path / "mutated", groups, orchs)
    want, got = pc.dag_summary(ours["bench_chain000"]), pc.dag_summary(other["bench_chain000"])
    assert [k for k in want if want[k] != got[k]] == [f"step_3__{orchs[0].steps[2].task}.rules"]


def test_dagfactory_orchestration_args_are_the_loaders(pc: ModuleType) -> None:
    """dag-factory builds the step operators from ``__type__`` nodes: they must resolve to the same rules,
    limits and report steps as the loader's (the full DAGs are compared by the benchmark's own check)."""
    from dagfactory.utils import cast_with_type

    from airflow_batchtasks.dag_factory.orchestration_dag import limits_of, step_rules
    from airflow_batchtasks.definitions.models import Orchestration

    groups = pc.make_specs(pc.VERIFY_TASKS, 5, 2)
    for orch in pc.make_orchestrations(groups, pc.VERIFY_ORCHESTRATIONS):
        model = Orchestration.model_validate(pc.ours_orchestration_doc(orch))
        tasks = cast_with_type(pc.dagfactory_orchestration(orch))["tasks"]
        steps = [v for k, v in tasks.items() if k != "report"]
        assert [s["rules"] for s in steps] == step_rules(model)
        assert {s["limits"] for s in steps} == {limits_of(model)}
        assert tasks["report"]["steps"] == [(r.step, r.task) for r in step_rules(model)]
