"""OpenLineage events of real runs: what each step reports, captured by OpenLineage's file transport.

A real Airflow (scheduler, LocalExecutor workers, API server) with ``[openlineage] transport`` set to a
file transport, as a user turns lineage on (docs/lineage.md); the events are read back from the files
the workers wrote. Two tasks:

- PostgreSQL -> SFTP: the extract step reads the ``orders`` table (named by the postgres hook's own
  OpenLineage namespace, ``postgres://host:port``, as Airflow's SQL operators name it); the deliver step
  wrote the file at the SFTP server, named by the destination's Asset URI, with rows, size and md5;
- a local file source whose processing script splits the file in three: the extract step read the
  file (its Asset URI), the process step wrote each of the three files, the deliver step put each one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from airflow_batchtasks.cli import LOADER_FILE, LOADER_TEXT
from tests.e2e.airflow_instance import StartAirflow
from tests.servers import PostgresServer, SshServer
from tests.servers.fixtures import postgres_server, sshd_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e

DEFINITIONS = """
kind: task
name: e2e_lineage_orders
source:
  type: sql
  conn_id: warehouse
  query: "select o.id, o.total from orders o where o.status = '{{ params.status }}' order by o.id"
params: {status: {default: open}}
output: {name: orders.csv}
destinations:
  - {type: sftp, conn_id: vendor_sftp, path: __INBOX__}
---
kind: task
name: e2e_lineage_split
source:
  type: file
  location: {type: local, path: __SOURCE__/sales_*.csv}
  input: {header: true}
output: {format: keep}
processing:
  inline: |
    import os, sys
    lines = open(sys.argv[1]).read().splitlines()
    header, rows = lines[0], lines[1:]
    out = []
    for part in range(3):
        path = os.path.join(os.environ["BATCHTASK_WORK_DIR"], f"part_{part + 1}.csv")
        open(path, "w").write("\\n".join([header, *rows[part::3]]) + "\\n")
        out.append(path)
    print(out)
destinations:
  - {type: local, path: __OUT__}
"""


def _events(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(folder.glob("ol-*.json"))
            for line in path.read_text().splitlines() if line.strip()]


def _complete(events: list[dict[str, Any]], job: str) -> dict[str, Any]:
    found = [e for e in events if e["job"]["name"] == job and e["eventType"] == "COMPLETE"]
    assert len(found) == 1, (job, sorted({(e["job"]["name"], e["eventType"]) for e in events}))
    return found[0]


def _names(datasets: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(d["namespace"], d["name"]) for d in datasets}


def test_lineage_events_of_real_runs(
    tmp_path: Path, start_airflow: StartAirflow, postgres_server: PostgresServer,  # noqa: F811
    sshd_server: SshServer,  # noqa: F811
) -> None:
    postgres_server.execute("drop table if exists orders")
    postgres_server.execute("create table orders (id int, status text, total numeric(10,2))")
    postgres_server.execute("insert into orders select g, case when g % 2 = 0 then 'open' else 'closed' end, g "
                            "from generate_series(1, 40) g")
    inbox = sshd_server.root / "lineage_inbox"
    inbox.mkdir(exist_ok=True)
    source, out, lineage = tmp_path / "source", tmp_path / "out", tmp_path / "lineage"
    for folder in (source, out, lineage):
        folder.mkdir()
    (source / "sales_2026.csv").write_text("id,amount\n" + "".join(f"{i},{i * 10}\n" for i in range(1, 10)))
    defs, dags = tmp_path / "definitions", tmp_path / "dags"
    defs.mkdir()
    dags.mkdir()
    (defs / "lineage.yaml").write_text(
        DEFINITIONS.replace("__INBOX__", str(inbox)).replace("__SOURCE__", str(source)).replace("__OUT__", str(out))
    )
    (dags / LOADER_FILE).write_text(LOADER_TEXT)
    env = {
        "AIRFLOW__BATCHTASKS__DEFINITIONS_FOLDER": str(defs),
        "AIRFLOW__BATCHTASKS__STAGING_URL": f"file://{tmp_path}/staging",
        "AIRFLOW__BATCHTASKS__ARCHIVE_URL": f"file://{tmp_path}/archive",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(lineage / "ol")}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "e2e",
        "AIRFLOW_CONN_WAREHOUSE": json.dumps({
            "conn_type": "postgres", "host": postgres_server.host, "port": postgres_server.port,
            "login": postgres_server.user, "password": postgres_server.password,
            "schema": postgres_server.database,
        }),
        "AIRFLOW_CONN_VENDOR_SFTP": json.dumps(sshd_server.connection()),
    }
    airflow = start_airflow(dags, env=env)
    runs = {}
    for dag_id in ("e2e_lineage_orders", "e2e_lineage_split"):
        airflow.wait_for_dag(dag_id)
        airflow.unpause(dag_id)
        runs[dag_id] = airflow.trigger(dag_id)
    for dag_id, run_id in runs.items():
        state = airflow.wait_for_run(dag_id, run_id, timeout=240)
        assert state == "success", (dag_id, {t["task_id"]: t["state"] for t in airflow.task_instances(dag_id, run_id)})

    events = _events(lineage)
    assert events, "no OpenLineage event was written"
    assert {e["job"]["namespace"] for e in events} == {"e2e"}

    # PostgreSQL -> SFTP: the table in, the delivered file out
    extract = _complete(events, "e2e_lineage_orders.extract")
    table = (f"postgres://{postgres_server.host}:{postgres_server.port}", f"{postgres_server.database}.public.orders")
    assert _names(extract["inputs"]) == {table}
    columns = [f["name"] for f in extract["inputs"][0]["facets"]["schema"]["fields"]]
    assert columns == ["id", "status", "total"], "the hook looked the table's columns up"
    assert "where o.status = ?" in extract["job"]["facets"]["sql"]["query"], "the query, run arguments bound"
    staged = ("batchtasks", "e2e_lineage_orders/extract/orders.csv")
    assert _names(extract["outputs"]) == {staged}
    assert extract["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 20

    deliver = _complete(events, "e2e_lineage_orders.deliver")
    assert _names(deliver["inputs"]) == {staged}
    body = (inbox / "orders.csv").read_bytes()
    [sent] = deliver["outputs"]
    # the destination's Asset URI (assets/uris.py), cut before its path: sftp://<host>:<port> + path
    assert (sent["namespace"], sent["name"]) == (f"sftp://{sshd_server.host}:{sshd_server.port}",
                                                 f"{inbox}/orders.csv")
    assert sent["outputFacets"]["outputStatistics"] == {**sent["outputFacets"]["outputStatistics"],
                                                        "rowCount": 20, "size": len(body)}
    assert sent["facets"]["version"]["datasetVersion"] == hashlib.md5(body).hexdigest()
    assert _names(_complete(events, "e2e_lineage_orders.package")["inputs"]) == {staged}

    # local file -> split into three by the processing script -> local folder
    read = _complete(events, "e2e_lineage_split.extract")
    assert _names(read["inputs"]) == {("file", f"{source}/sales_2026.csv")}
    assert read["inputs"][0]["inputFacets"]["inputStatistics"]["rowCount"] == 9
    split = _complete(events, "e2e_lineage_split.process")
    assert _names(split["inputs"]) == {("batchtasks", "e2e_lineage_split/extract/sales_2026.csv")}
    parts = {("batchtasks", f"e2e_lineage_split/process/part_{n}.csv") for n in (1, 2, 3)}
    assert _names(split["outputs"]) == parts, "each file the script wrote"
    sizes = {d["name"].rsplit("/", 1)[1]: d["outputFacets"]["outputStatistics"]["size"] for d in split["outputs"]}
    assert sizes == {p.name: p.stat().st_size for p in out.iterdir()}
    put = _complete(events, "e2e_lineage_split.deliver")
    assert _names(put["outputs"]) == {("file", f"{out}/part_{n}.csv") for n in (1, 2, 3)}
    assert _names(put["inputs"]) == parts
