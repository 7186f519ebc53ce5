"""Query rows to a file: the fast paths (arrow-odbc, PostgreSQL COPY), the portable one, bound parameters, rewrites.

Usable without an operator: :func:`~airflow_batchtasks.sql.extract.extract`
takes a hook and a query and writes the staged file.
"""
