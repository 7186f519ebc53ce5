"""The UI pages (All Tasks, My Tasks, Task Details, Orchestrations, cron helper), server-rendered.

Mounted at ``/batchtasks/ui`` and shown inside Airflow's UI through the plugin's
``external_views`` (an iframe on Airflow's own origin). Pages call the same data
layer and the same API route functions and authorization checks as the REST
API, so the two can never disagree; see :mod:`.security` for authentication.
"""
