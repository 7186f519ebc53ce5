"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-batchtasks",
        "name": "Batch Tasks",
        "description": "Batch tasks (SQL/file/script extracts, API calls, orchestrations) declared in YAML.",
        "versions": ["0.1.0"],
        "cli": ["airflow_batchtasks.cli.get_cli_commands"],
        "db-managers": ["airflow_batchtasks.db.manager.BatchTasksDBManager"],
        "plugins": [
            {"name": "batchtasks", "plugin-class": "airflow_batchtasks.plugins.plugin.BatchTasksPlugin"},
        ],
        "config": {
            "batchtasks": {
                "description": "Settings of the airflow-batchtasks provider.",
                "options": {
                    "definitions_folder": {
                        "description": "Folder of YAML definition files. Empty: <dags_folder>/batchtasks.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/opt/airflow/dags/batchtasks",
                        "default": "",
                    },
                    "staging_url": {
                        "description": "Object-storage URL where pipeline steps hand files over "
                        "(file://, s3://...). Empty: file://$AIRFLOW_HOME/batchtasks/staging.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://bucket/batchtasks/staging",
                        "default": "",
                    },
                    "archive_url": {
                        "description": "Object-storage URL of the file history (every delivered file and "
                        "its record). Empty: file://$AIRFLOW_HOME/batchtasks/archive.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "s3://bucket/batchtasks/archive",
                        "default": "",
                    },
                    "storage_conn_id": {
                        "description": "Airflow connection used for staging_url/archive_url (e.g. an AWS "
                        "connection for s3://). Empty: the scheme's default.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "aws_default",
                        "default": "",
                    },
                    "definitions_writable": {
                        "description": "Whether the REST API may write definition files.",
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "False",
                        "default": "True",
                    },
                    "local_roots": {
                        "description": "Comma-separated absolute folders that `local` paths of definitions "
                        "(file sources, destinations) may use. A definition written through the REST API whose "
                        "`local` path is outside every root needs the right to edit connections; when set, a "
                        "step whose rendered `local` path is outside every root fails without retry. Empty: "
                        "every `local` path written through the API needs that right, nothing is checked at "
                        "run time.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/srv/outbox,/srv/inbox",
                        "default": "",
                    },
                    "max_request_mb": {
                        "description": "Largest request body, in MB, the provider's REST API and pages "
                        "accept; a larger one is refused with 413 before it is read.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "8",
                        "default": "4",
                    },
                    "test_clock_enabled": {
                        "description": "Testing aid: let an orchestration instance's conf carry "
                        "`_batchtasks_clock: {start, speed}` so its steps see a fake, faster clock. "
                        "Never enable in production.",
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "True",
                        "default": "False",
                    },
                    "orchestration_poll_interval": {
                        "description": "Seconds between two checks, by the triggerer, of the task run an "
                        "orchestration step waits for.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "30",
                        "default": "5",
                    },
                    "notify_max_attachment_mb": {
                        "description": "Largest total size, in MB, of the output files one notification "
                        "attaches or embeds; a file above it is left out and the mail says why.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "25",
                        "default": "10",
                    },
                    "sql_batch_size": {
                        "description": "Rows fetched per round trip when streaming a query to a file "
                        "(fetchmany, PostgreSQL server-side cursors, arrow-odbc batches; COPY streams "
                        "without batches). Read by the worker when the extract step runs.",
                        "version_added": "0.1.0",
                        "type": "integer",
                        "example": "50000",
                        "default": "10000",
                    },
                    "venv_cache": {
                        "description": "Local folder where processing scripts' isolated virtual environments "
                        "are kept, one per set of requirements and Python version. "
                        "Empty: $AIRFLOW_HOME/batchtasks/venvs.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "/var/cache/batchtasks/venvs",
                        "default": "",
                    },
                },
            }
        },
    }
