"""The Airflow plugin of the provider: the FastAPI app (REST API under ``/batchtasks/api/v1``) and macros."""
