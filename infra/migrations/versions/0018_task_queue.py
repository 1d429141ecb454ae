"""task queue: procrastinate's schema; evidence_jobs moved into it and dropped

Revision ID: 0018_task_queue
Revises: 0017_alert_params

* procrastinate's tables, types and functions, as the installed procrastinate version ships
  them (``procrastinate.schema.SchemaManager.get_schema()``; the dependency is pinned to 3.x).
* ``procrastinate_job_errors``: why a job's last attempt failed (procrastinate keeps only the
  state); written by the worker middleware ``infra.tasks.record_failure``.
* Every ``evidence_jobs`` row not done becomes an ``evidence:derivatives`` job with the same
  evidence, county, attempts and due time: queued and running rows (a running row's worker is
  gone once this runs) as ``todo``, failed rows as ``failed`` with their last error, so that
  an operator still sees them and can ``patrol jobs retry`` them. ``evidence_jobs`` is dropped.

Downgrade removes procrastinate's objects and recreates ``evidence_jobs`` empty: evidence
without derivatives would need its jobs queued again by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.util import await_only

revision: str = "0018_task_queue"
down_revision: str | Sequence[str] | None = "0017_alert_params"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MOVE = """
WITH moved AS (
    INSERT INTO procrastinate_jobs
        (queue_name, task_name, lock, queueing_lock, args, status, scheduled_at, attempts)
    SELECT 'default', 'evidence:derivatives', 'evidence:' || j.evidence_id,
           CASE WHEN j.status = 'failed' THEN NULL ELSE 'derivatives:' || j.evidence_id END,
           jsonb_build_object('evidence_id', j.evidence_id::text,
                              'county_id', j.county_id::text),
           CASE WHEN j.status = 'failed' THEN 'failed' ELSE 'todo' END
               ::procrastinate_job_status,
           j.run_after, j.attempts
      FROM evidence_jobs AS j
     WHERE j.kind = 'derivatives' AND j.status IN ('queued', 'running', 'failed')
    RETURNING id, args
)
INSERT INTO procrastinate_job_errors (job_id, attempt, error, at)
SELECT m.id, j.attempts, j.last_error, j.updated_at
  FROM moved AS m
  JOIN evidence_jobs AS j
    ON j.kind = 'derivatives' AND j.evidence_id::text = m.args->>'evidence_id'
 WHERE j.last_error IS NOT NULL
"""

_DROP_PROCRASTINATE = """
DO $$
DECLARE r record;
BEGIN
    DROP TABLE IF EXISTS procrastinate_job_errors, procrastinate_events,
        procrastinate_periodic_defers, procrastinate_jobs, procrastinate_workers CASCADE;
    FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc AS p
              WHERE p.proname LIKE 'procrastinate\\_%'
                AND p.pronamespace = current_schema()::regnamespace LOOP
        EXECUTE 'DROP FUNCTION IF EXISTS ' || r.fn || ' CASCADE';
    END LOOP;
    FOR r IN SELECT t.typname FROM pg_type AS t
              WHERE t.typname LIKE 'procrastinate\\_%' AND t.typtype IN ('e', 'c')
                AND t.typnamespace = current_schema()::regnamespace LOOP
        EXECUTE 'DROP TYPE IF EXISTS ' || quote_ident(r.typname) || ' CASCADE';
    END LOOP;
END $$;
"""


def _run_script(sql: str) -> None:
    """A multi-statement script (function bodies and all) in the migration's transaction:
    asyncpg's simple query protocol, on the connection Alembic holds."""
    bind = op.get_bind()
    bind.execute(sa.text("SELECT 1"))  # the transaction is open on the driver connection
    driver: Any = bind.connection.driver_connection
    await_only(driver.execute(sql))


def upgrade() -> None:
    _run_script(SchemaManager.get_schema())
    op.execute(
        """
        CREATE TABLE procrastinate_job_errors (
            job_id bigint PRIMARY KEY REFERENCES procrastinate_jobs (id) ON DELETE CASCADE,
            attempt integer NOT NULL,
            error text NOT NULL,
            at timestamp with time zone NOT NULL DEFAULT now()
        )
        """
    )
    op.execute(_MOVE)
    op.drop_index("ix_evidence_jobs_status_run_after", table_name="evidence_jobs")
    op.drop_index(op.f("ix_evidence_jobs_county_id"), table_name="evidence_jobs")
    op.drop_table("evidence_jobs")


def downgrade() -> None:
    op.create_table(
        "evidence_jobs",
        sa.Column("evidence_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("county_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_evidence_jobs_status"),
        ),
        sa.ForeignKeyConstraint(
            ["county_id"],
            ["counties.id"],
            name=op.f("fk_evidence_jobs_county_id_counties"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence.id"],
            name=op.f("fk_evidence_jobs_evidence_id_evidence"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_jobs")),
        sa.UniqueConstraint("evidence_id", "kind", name=op.f("uq_evidence_jobs_evidence_id")),
    )
    op.create_index(
        op.f("ix_evidence_jobs_county_id"), "evidence_jobs", ["county_id"], unique=False
    )
    op.create_index(
        "ix_evidence_jobs_status_run_after", "evidence_jobs", ["status", "run_after"], unique=False
    )
    _run_script(_DROP_PROCRASTINATE)
