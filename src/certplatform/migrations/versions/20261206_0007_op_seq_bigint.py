"""op_seq and time_ms as BIGINT

Clients number answer saves with Date.now() (about 1.8e12), which INTEGER cannot hold on
PostgreSQL; an item's time is a sum over saves and can outgrow 32 bits as well.

Revision ID: 0007
Revises: 0024
Create Date: 2026-12-06 15:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("attempt_items", "op_seq"),
    ("attempt_items", "time_ms"),
    ("attempt_operations", "op_seq"),
)


def upgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column, existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
            )


def downgrade() -> None:
    for table, column in COLUMNS:
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                column, existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
            )
