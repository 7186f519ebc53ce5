"""What every pipeline step shares: the staging area of its run, run-date defaults, failure records.

Manual runs in Airflow 3 may have no logical date: every step first gives the
context run dates from ``run_after`` (:mod:`~airflow_batchtasks.arguments.run_dates`)
so file names such as ``sales_{{ ds_nodash }}.csv`` render.

Every step's ``render_template_fields`` and ``execute`` are wrapped by
:func:`~airflow_batchtasks.operators.step_failure.recorded`: a failure is
recorded with the end of the step's log for the notify step, and a definition
error is not retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_batchtasks.arguments.run_dates import fill_run_dates
from airflow_batchtasks.definitions.masking import register_secrets
from airflow_batchtasks.operators.step_failure import recorded
from airflow_batchtasks.storage.paths import staging_dir

if TYPE_CHECKING:
    from airflow.sdk import Context


class BatchStepOperator(BaseOperator):
    """Base of the extract/package/deliver steps.

    :param batch_task: name of the batch task definition this step belongs to
    """

    def __init__(self, *, batch_task: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_task = batch_task

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("render_template_fields", "execute"):
            if name in cls.__dict__:
                setattr(cls, name, recorded(cls.__dict__[name]))

    @recorded
    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        fill_run_dates(context)
        register_run_secrets(context)
        super().render_template_fields(context, jinja_env)

    def staging(self, context: Context, step: str) -> ObjectStoragePath:
        return staging_dir(self.dag_id, context["run_id"], step)


def register_run_secrets(context: Context) -> None:
    """Run arguments named like secrets (``db_password=...``) are told to Airflow's masker before any step
    renders or logs them: a bound SQL argument or a quoted shell word is still the value in the task log."""
    conf = getattr(context.get("dag_run"), "conf", None) or {}
    register_secrets({"params": dict(context.get("params") or {}), "conf": dict(conf)})
