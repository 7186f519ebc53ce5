"""Airflow Assets for deliveries and file sources: stable file URIs, asset events, scheduling on deliveries."""
