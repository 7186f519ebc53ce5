"""The sharded loader: every DAG built by exactly one shard, validated against the whole folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_batchtasks.dag_factory.loader import load_dags
from airflow_batchtasks.dag_factory.shards import ShardDefinitionErrors, load_shard
from airflow_batchtasks.definitions import catalog_index
from airflow_batchtasks.definitions.catalog_index import shard_of
from airflow_batchtasks.naming import ERRORS_DAG_ID, resend_dag_id

COUNT = 4


@pytest.fixture(autouse=True)
def _private_index_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own index cache, so a cache left by another test can prove nothing."""
    monkeypatch.setattr(catalog_index.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))


def in_shard(shard: int, stem: str = "f") -> str:
    """A file name (``<stem>_<n>.yaml``) that hashes to ``shard`` of :data:`COUNT`."""
    return next(f"{stem}_{n}.yaml" for n in range(1000) if shard_of(f"{stem}_{n}.yaml", COUNT) == shard)


def all_shards(folder: Path, count: int = COUNT) -> dict[int, dict]:
    out = {}
    for shard in range(count):
        namespace: dict = {}
        load_shard(namespace, shard, count, folder)
        out[shard] = namespace
    return out


@pytest.fixture
def folder(write, sql_task, defs: Path) -> Path:
    """Cross-file references: a project in shard 0, its tasks in shards 1 and 2, an orchestration in shard 3
    running tasks of shards 1 and 2."""
    write(in_shard(0), "kind: project\nname: sales\nrun_in_series: true\nowners: [alice]\n"
                       "access: {sales_team: [run]}\n")
    write(in_shard(1), sql_task("alpha", "run_rank: 1\ndestinations:\n  - {type: local, path: /out}\n",
                                project="sales") + "---\n" + sql_task("payroll"))
    write(in_shard(2), sql_task("beta", "run_rank: 2\naccess: {auditors: [read]}\n", project="sales"))
    write(in_shard(3), "kind: orchestration\nname: nightly\nsteps:\n  - task: payroll\n  - task: beta\n")
    return defs


def test_the_shards_build_the_same_dags_as_one_loader_each_exactly_once(folder: Path) -> None:
    single: dict = {}
    load_dags(single, folder)

    shards = all_shards(folder)

    built = [dag_id for namespace in shards.values() for dag_id in namespace]
    assert sorted(built) == sorted(single)  # nothing lost, nothing built twice
    assert sorted(shards[0]) == sorted(["project__sales", resend_dag_id(None)])
    assert sorted(shards[1]) == ["alpha", "payroll"]
    assert sorted(shards[2]) == ["beta"]
    assert sorted(shards[3]) == ["nightly"]
    for namespace in shards.values():
        for dag_id, dag in namespace.items():
            assert dag.task_ids == single[dag_id].task_ids
            assert dag.access_control == single[dag_id].access_control
            assert dag.tags == single[dag_id].tags


def test_a_task_inherits_its_projects_access_from_another_shards_file(folder: Path) -> None:
    namespace: dict = {}
    load_shard(namespace, 2, COUNT, folder)

    access = namespace["beta"].access_control
    assert set(access) == {"sales_team", "auditors"}  # the project's role and the task's own
    assert "project:sales" in namespace["beta"].tags


def test_a_project_dag_runs_its_tasks_of_other_shards(folder: Path) -> None:
    namespace: dict = {}
    load_shard(namespace, 0, COUNT, folder)

    assert sorted(namespace["project__sales"].task_ids) == ["run_alpha", "run_beta", "series_result"]


def test_an_unknown_reference_is_a_placeholder_in_its_own_shard_only(write, folder: Path) -> None:
    write(in_shard(3), "kind: orchestration\nname: nightly\nsteps:\n  - task: payroll\n  - task: gamma\n")

    shards = all_shards(folder)

    assert shards[3]["nightly"].task_ids == ["definition_error"]
    assert "unknown task `gamma`" in shards[3]["nightly"].doc_md
    assert shards[1]["payroll"].task_ids != ["definition_error"]


def test_a_broken_file_is_the_import_error_of_its_shard_only(write, folder: Path) -> None:
    broken = write(in_shard(2, "broken"), "kind: task\nname: [never closed\n")

    for shard in (0, 1, 3):  # the other shards build all their DAGs, and no errors DAG
        namespace: dict = {}
        load_shard(namespace, shard, COUNT, folder)
        assert namespace and ERRORS_DAG_ID not in namespace
    with pytest.raises(ShardDefinitionErrors) as err:
        load_shard({}, 2, COUNT, folder)
    assert f"\n{broken.name}:3: invalid YAML" in str(err.value)
    assert str(folder) not in str(err.value)  # paths relative to the definitions folder


def test_a_name_declared_in_two_shards_is_an_error_of_the_later_file(write, sql_task, folder: Path) -> None:
    later = in_shard(2, "zz")  # after the shard-1 file in load (path) order
    write(later, sql_task("payroll"))

    kept: dict = {}
    load_shard(kept, 1, COUNT, folder)
    assert kept["payroll"].task_ids != ["definition_error"]
    with pytest.raises(ShardDefinitionErrors) as err:
        load_shard({}, 2, COUNT, folder)
    assert f"{later}:2: name: `payroll` is already defined at {in_shard(1)}:" in str(err.value)


def test_adding_a_file_moves_no_dag_to_another_shard(write, sql_task, folder: Path) -> None:
    before = {shard: sorted(ns) for shard, ns in all_shards(folder).items()}
    added = write("new_team/more.yaml", sql_task("more"))
    target = shard_of("new_team/more.yaml", COUNT)

    after = {shard: sorted(ns) for shard, ns in all_shards(folder).items()}

    for shard in range(COUNT):
        expected = sorted([*before[shard], "more"]) if shard == target else before[shard]
        assert after[shard] == expected, added


def test_the_index_notices_an_edited_file(write, sql_task, folder: Path) -> None:
    load_shard({}, 3, COUNT, folder)  # fills the cache
    write(in_shard(1), sql_task("alpha", project="sales") + "---\n" + sql_task("payroll_renamed"))

    namespace: dict = {}
    load_shard(namespace, 3, COUNT, folder)

    assert namespace["nightly"].task_ids == ["definition_error"]
    assert "unknown task `payroll`" in namespace["nightly"].doc_md


def test_a_removed_file_leaves_the_index(write, sql_task, folder: Path) -> None:
    """A name declared twice stops being an error once the later file is deleted (its rows leave the cache)."""
    later = write(in_shard(2, "zz"), sql_task("payroll"))
    with pytest.raises(ShardDefinitionErrors):
        load_shard({}, 2, COUNT, folder)
    later.unlink()

    namespace: dict = {}
    load_shard(namespace, 2, COUNT, folder)

    assert namespace["beta"].task_ids != ["definition_error"]


def test_a_damaged_or_unusable_index_cache_is_rebuilt_not_trusted(folder: Path, tmp_path: Path) -> None:
    expected = {shard: sorted(ns) for shard, ns in all_shards(folder).items()}
    cache = catalog_index.cache_path(folder)
    assert cache.is_file(), "the index is cached between parses"

    cache.write_bytes(b"not a database" * 100)
    assert {shard: sorted(ns) for shard, ns in all_shards(folder).items()} == expected

    cache.unlink()
    cache.mkdir()  # a path that cannot be opened as a database: indexed in memory, same DAGs
    assert {shard: sorted(ns) for shard, ns in all_shards(folder).items()} == expected


def test_an_index_cache_of_another_version_is_emptied(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    all_shards(folder)
    monkeypatch.setattr(catalog_index, "INDEX_VERSION", catalog_index.INDEX_VERSION + 1)
    with catalog_index.load_index(folder, sorted(folder.rglob("*.yaml"))) as index:
        assert index.definition_count() == 5, "re-read from the files, not doubled or lost"


def test_a_missing_folder_is_an_import_error(tmp_path: Path) -> None:
    with pytest.raises(ShardDefinitionErrors, match="does not exist"):
        load_shard({}, 0, 2, tmp_path / "nowhere")


def test_a_worker_builds_only_its_dag(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "beta")
    namespace: dict = {}

    load_shard(namespace, 2, COUNT, folder)

    assert list(namespace) == ["beta"]


def test_shard_of_is_stable_and_spread() -> None:
    assert shard_of("team/a.yaml", 16) == shard_of("team/a.yaml", 16)
    assert shard_of("anything.yaml", 1) == 0
    counts = [0] * 8
    for n in range(800):
        counts[shard_of(f"tasks_{n:03d}.yaml", 8)] += 1
    assert min(counts) > 60 and max(counts) < 140
