"""Processing scripts: where their code comes from, their cached virtualenvs, environment and log lines."""
