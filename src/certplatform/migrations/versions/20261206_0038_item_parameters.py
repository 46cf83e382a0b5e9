"""analytics: stored item parameters and the last calibration per certification

Revision ID: 0038
Revises: 0040
Create Date: 2026-12-06 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_item_parameters",
        sa.Column("question_id", sa.String(length=32), nullable=False),
        sa.Column("certification", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=8), nullable=False),
        sa.Column("a", sa.Float(), nullable=False),
        sa.Column("b", sa.Float(), nullable=False),
        sa.Column("c", sa.Float(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("calibrated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("question_id", name=op.f("pk_analytics_item_parameters")),
    )
    with op.batch_alter_table("analytics_item_parameters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analytics_item_parameters_certification"),
            ["certification"],
            unique=False,
        )
    op.create_table(
        "analytics_calibrations",
        sa.Column("certification", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=8), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("responses", sa.Integer(), nullable=False),
        sa.Column("loglik", sa.Float(), nullable=False),
        sa.Column("iterations", sa.Integer(), nullable=False),
        sa.Column("converged", sa.Boolean(), nullable=False),
        sa.Column("calibrated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("run_key", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("certification", name=op.f("pk_analytics_calibrations")),
    )


def downgrade() -> None:
    op.drop_table("analytics_calibrations")
    with op.batch_alter_table("analytics_item_parameters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analytics_item_parameters_certification"))
    op.drop_table("analytics_item_parameters")
