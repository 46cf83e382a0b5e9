"""attempt items remember the operation that set them

Revision ID: 0030
Revises: 0013
Create Date: 2026-12-06 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attempt_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("op_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempt_items", schema=None) as batch_op:
        batch_op.drop_column("op_id")
