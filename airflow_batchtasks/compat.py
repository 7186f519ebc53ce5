"""Names whose home moved between Airflow 3.1 and 3.2: import them from here, not from Airflow directly.

Airflow 3.2 moved the task exceptions into the task SDK (``airflow.sdk.exceptions``) and added
``CronTriggerTimetable`` to ``airflow.sdk``; the old homes (``airflow.exceptions``,
``airflow.timetables.trigger``) still work there but warn, and 3.1 only has the old ones. Trying the new
home first keeps 3.2+ free of deprecation warnings and 3.1 working; the classes are the ones each
version's task runner catches (a step raising 3.1's ``AirflowFailException`` fails without retry on 3.1).
Same approach as the official providers' ``version_compat`` modules.
"""

from __future__ import annotations

from airflow import __version__ as _airflow_version
from packaging.version import Version

#: Airflow 3.2 added provider CLI commands (``airflow batchtasks``); on 3.1 use ``airflow-batchtasks``.
AIRFLOW_V_3_2_PLUS = Version(Version(_airflow_version).base_version) >= Version("3.2.0")

try:
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSkipException,
        ParamValidationError,
    )
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowFailException,
        AirflowNotFoundException,
        AirflowSkipException,
        ParamValidationError,
    )

try:
    from airflow.sdk import CronTriggerTimetable
except ImportError:  # Airflow 3.1
    from airflow.timetables.trigger import CronTriggerTimetable  # type: ignore[no-redef]

__all__ = [
    "AIRFLOW_V_3_2_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowNotFoundException",
    "AirflowSkipException",
    "CronTriggerTimetable",
    "ParamValidationError",
]
