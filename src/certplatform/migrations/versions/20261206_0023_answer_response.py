"""answer records keep the response and the practice run they came from

Revision ID: 0023
Revises: 0007
Create Date: 2026-12-06 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("answer_records", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "response",
                sa.JSON(none_as_null=True).with_variant(
                    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("practice_session_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_answer_records_practice_session_id"),
            ["practice_session_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("answer_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_answer_records_practice_session_id"))
        batch_op.drop_column("position")
        batch_op.drop_column("practice_session_id")
        batch_op.drop_column("response")
