"""Tables of the file-history index.

The archive (a ``<name>.record.json`` next to each archived file) stays the
durable truth; these tables are an index of it so the file history of a task
with thousands of runs lists in one query instead of thousands of object-store
reads. They can be dropped and rebuilt from the archive at any time.
"""

from __future__ import annotations

import sqlalchemy as sa
from airflow.utils.sqlalchemy import UtcDateTime

metadata = sa.MetaData()

#: One row per archived file (a record). ``id`` is an opaque hash of the file's place in the
#: archive: clients address files by it and can never name a path themselves.
files = sa.Table(
    "batchtasks_file",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("task", sa.String(250), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("md5", sa.String(32), nullable=False),
    sa.Column("rows", sa.BigInteger, nullable=True),
    sa.Column("created", UtcDateTime, nullable=True),
    sa.Column("destinations", sa.Text, nullable=False, default="[]"),
    sa.Column("resends", sa.Text, nullable=False, default="[]"),
    # Path of the archived file relative to the archive root, as found by the scan.
    sa.Column("path", sa.String(2000), nullable=False),
    sa.Index("idx_batchtasks_file_task_created", "task", "created"),
    sa.Index("idx_batchtasks_file_task_run", "task", "run_id"),
)

#: When each run's archive folder was last indexed; ``run_id = ''`` marks a task whose whole
#: archive folder has been scanned once (later syncs only rescan runs that changed).
scans = sa.Table(
    "batchtasks_file_scan",
    metadata,
    sa.Column("task", sa.String(250), primary_key=True),
    sa.Column("run_id", sa.String(250), primary_key=True),
    sa.Column("scanned_at", UtcDateTime, nullable=False),
)
