"""Developer tooling (demo, local Airflow runner). Not shipped in the wheel."""
