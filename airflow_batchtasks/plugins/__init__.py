"""The Airflow plugin of the provider (REST API and pages come in a later version)."""
