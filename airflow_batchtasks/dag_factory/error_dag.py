"""Placeholder DAGs that make definition errors visible in the Airflow UI.

A broken definition must neither hide the valid ones nor silently vanish: a
task whose file breaks keeps its DAG id (and its run history) as a DAG that
shows the errors in its doc and fails at once if triggered. Errors that
cannot be tied to a name (a YAML syntax error, say) are gathered on one DAG,
``batchtasks_definition_errors``. Neither is ever scheduled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import DAG, BaseOperator

from airflow_batchtasks import config
from airflow_batchtasks.dag_factory.schedules import EPOCH
from airflow_batchtasks.definitions import masking
from airflow_batchtasks.definitions.errors import DefinitionError
from airflow_batchtasks.naming import ERRORS_DAG_ID, INVALID_TAG, ORCHESTRATION_TAG, TAG

if TYPE_CHECKING:
    from airflow.sdk import Context


class DefinitionErrorOperator(BaseOperator):
    """Fails with the definition errors, without retry."""

    ui_color = "#ffb3b3"

    def __init__(self, *, errors: list[str], **kwargs: Any) -> None:
        super().__init__(retries=0, **kwargs)
        self.errors = errors

    def execute(self, context: Context) -> None:
        from airflow_batchtasks.compat import AirflowFailException

        raise AirflowFailException("invalid definition:\n" + "\n".join(self.errors))


def build_error_dag(dag_id: str, errors: list[DefinitionError]) -> DAG:
    """The placeholder; one of an orchestration carries the ``orchestration`` tag, so it stays with the
    orchestrations (its instances' reports readable) and out of the task list."""
    root = config.definitions_folder()  # every reader of the DAG sees these: no server paths, no secrets
    lines = [masking.hide_paths(masking.mask_message(str(e)), root) for e in errors]
    orchestration = dag_id != ERRORS_DAG_ID and all(e.kind == "orchestration" for e in errors)
    what = "orchestration" if orchestration else "batch task"
    doc = f"### Invalid {what} definition\n\nFix these and the DAG comes back:\n\n" + "\n".join(
        f"- `{line}`" for line in lines
    )
    dag = DAG(
        dag_id=dag_id,
        description=f"INVALID DEFINITION: {lines[0]}"[:200],
        schedule=None,
        start_date=EPOCH,
        catchup=False,
        tags=[TAG, INVALID_TAG, *([ORCHESTRATION_TAG] if orchestration else [])],
        doc_md=doc,
        is_paused_upon_creation=True,
    )
    with dag:
        DefinitionErrorOperator(task_id="definition_error", errors=lines)
    return dag
