"""The prediction log, outcomes, drift metrics and model events.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("record_id", sa.String(36), primary_key=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("item_index", sa.Integer, nullable=False),
        sa.Column("endpoint", sa.String(64), nullable=False),
        sa.Column("application_id", sa.String(64)),
        sa.Column("application_date", sa.Date),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(32)),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("risk_band", sa.String(1), nullable=False),
        sa.Column("inputs", JSON, nullable=False),
        sa.Column("outputs", JSON, nullable=False),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
    )
    for column in ("request_id", "application_id", "application_date", "logged_at"):
        op.create_index(f"ix_predictions_{column}", "predictions", [column])
    op.create_table(
        "outcomes",
        sa.Column("application_id", sa.String(64), primary_key=True),
        sa.Column("defaulted", sa.Integer, nullable=False),
        sa.Column("observed_on", sa.Date, nullable=False),
    )
    op.create_table(
        "drift_metrics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("window_start", sa.Date, nullable=False),
        sa.Column("model_version", sa.String(32)),
        sa.Column("reference", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("drift_share", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("drifted", sa.Boolean, nullable=False),
        sa.Column("report_path", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_drift_metrics_window_start", "drift_metrics", ["window_start"])
    op.create_table(
        "feature_drift",
        sa.Column("drift_id", sa.Integer, sa.ForeignKey("drift_metrics.id"), primary_key=True),
        sa.Column("feature", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.Date, nullable=False),
        sa.Column("method", sa.String(64), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("drifted", sa.Boolean, nullable=False),
    )
    op.create_index("ix_feature_drift_window_start", "feature_drift", ["window_start"])
    op.create_table(
        "model_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_start", sa.Date),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.String(32)),
        sa.Column("champion", sa.String(32)),
        sa.Column("metric", sa.String(32)),
        sa.Column("challenger_score", sa.Float),
        sa.Column("champion_score", sa.Float),
        sa.Column("rows", sa.Integer),
        sa.Column("reason", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("model_events", "feature_drift", "drift_metrics", "outcomes", "predictions"):
        op.drop_table(table)
