"""Session-wide Airflow settings for every test: a throwaway AIRFLOW_HOME, no example DAGs.

Set at import time, before anything imports airflow, because Airflow reads
its configuration once when first imported.
"""

from __future__ import annotations

import os
import tempfile

os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="batchtasks-tests-airflow-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(os.environ["AIRFLOW_HOME"], "dags")
# psqlODBC is named by its driver file in connection extras (Airflow refuses that unless allowed).
os.environ["AIRFLOW__PROVIDERS_ODBC__ALLOW_DRIVER_IN_EXTRA"] = "True"
