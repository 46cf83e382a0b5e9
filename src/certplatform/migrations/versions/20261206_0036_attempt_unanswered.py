"""attempts keep their unanswered count (the answer save reads it instead of counting)

Revision ID: 0036
Revises: 0031
Create Date: 2026-12-06 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("unanswered", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    op.execute(
        "UPDATE attempts SET unanswered = (SELECT count(*) FROM attempt_items i "
        "WHERE i.attempt_id = attempts.id AND i.response IS NULL)"
    )


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_column("unanswered")
