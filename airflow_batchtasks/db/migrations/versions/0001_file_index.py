"""File-history index: batchtasks_file and batchtasks_file_scan.

Revision ID: bt0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from airflow.utils.sqlalchemy import UtcDateTime
from alembic import op

revision = "bt0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batchtasks_file",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("task", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("md5", sa.String(32), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=True),
        sa.Column("created", UtcDateTime, nullable=True),
        sa.Column("destinations", sa.Text, nullable=False),
        sa.Column("resends", sa.Text, nullable=False),
        sa.Column("path", sa.String(2000), nullable=False),
    )
    op.create_index("idx_batchtasks_file_task_created", "batchtasks_file", ["task", "created"])
    op.create_index("idx_batchtasks_file_task_run", "batchtasks_file", ["task", "run_id"])
    op.create_table(
        "batchtasks_file_scan",
        sa.Column("task", sa.String(250), primary_key=True),
        sa.Column("run_id", sa.String(250), primary_key=True),
        sa.Column("scanned_at", UtcDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("batchtasks_file_scan")
    op.drop_index("idx_batchtasks_file_task_run", "batchtasks_file")
    op.drop_index("idx_batchtasks_file_task_created", "batchtasks_file")
    op.drop_table("batchtasks_file")
