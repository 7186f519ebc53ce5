"""Resend DAGs: one per distinct deliver queue, its step on that queue, never hiding a batch task."""

from __future__ import annotations

from airflow_batchtasks.naming import ERRORS_DAG_ID, RESEND_TAG, resend_dag_id


def _task(name: str, extra: str = "", destinations: str = "[{type: sftp, conn_id: vendor, path: /in}]") -> str:
    return (f"kind: task\nname: {name}\nsource: {{type: sql, conn_id: db, query: select 1}}\n"
            f"destinations: {destinations}\n{extra}")


def _resend_dags(dags: dict) -> dict[str, str | None]:
    return {d: dag.tasks[0].queue for d, dag in dags.items() if RESEND_TAG in dag.tags}


def test_one_resend_dag_per_deliver_queue_on_that_queue(build_from) -> None:
    from airflow.configuration import conf

    dags = build_from({
        "a.yaml": _task("plain"),
        "b.yaml": _task("same_default", "queue: workers_a\nqueues: {deliver: default_out}\n"),
        "c.yaml": _task("dmz", "queue: dmz@site:1\n"),
        "d.yaml": _task("also_dmz", "queues: {deliver: 'dmz@site:1'}\n"),
        "e.yaml": _task("no_destination", "queue: lonely\n", destinations="[]"),
    })
    assert _resend_dags(dags) == {
        "batchtasks_resend": conf.get("operators", "default_queue"),
        "batchtasks_resend__default_out": "default_out",
        resend_dag_id("dmz@site:1"): "dmz@site:1",
    }, "a task without destinations needs no resend DAG"
    assert resend_dag_id("dmz@site:1").startswith("batchtasks_resend__dmz_site_1_")
    resend = dags["batchtasks_resend"]
    assert resend.schedule is None and not resend.is_paused_upon_creation and resend.max_active_runs == 1
    assert "batchtasks" not in resend.tags, "not a batch task: out of the task list"
    assert [t.task_id for t in resend.tasks] == ["resend"] and resend.tasks[0].retries == 0


def test_a_task_cannot_take_a_resend_dags_name(build_from) -> None:
    dags = build_from({"a.yaml": _task("batchtasks_resend"), "b.yaml": _task("fine")})
    assert RESEND_TAG in dags["batchtasks_resend"].tags, "the resend DAG keeps its id"
    assert "reserved for the provider's resend DAGs" in dags[ERRORS_DAG_ID].doc_md
    assert "fine" in dags


def test_a_worker_building_one_task_builds_no_resend_dag(defs, write) -> None:
    """Under Airflow's parsing context a worker needs only its DAG: no extra parse cost."""
    from airflow_batchtasks.dag_factory.loader import build_dags
    from airflow_batchtasks.definitions.catalog import load_catalog

    write("a.yaml", _task("plain"))
    assert list(build_dags(load_catalog(defs, only="plain"), "plain")) == ["plain"]
    assert list(build_dags(load_catalog(defs), "batchtasks_resend")) == ["batchtasks_resend"]


def test_an_orchestration_cannot_take_a_resend_dags_name(build_from) -> None:
    orchestration = "kind: orchestration\nname: batchtasks_resend\nsteps: [{task: fine}]\n"
    dags = build_from({"a.yaml": orchestration, "b.yaml": _task("fine")})
    assert RESEND_TAG in dags["batchtasks_resend"].tags, "the API would have triggered the orchestration"
    assert "reserved for the provider's resend DAGs" in dags[ERRORS_DAG_ID].doc_md
