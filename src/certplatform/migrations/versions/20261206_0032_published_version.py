"""questions remember the version learners are served while a newer one is a draft

Revision ID: 0032
Revises: 0033
Create Date: 2026-12-06 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_version", sa.Integer(), nullable=True))
    # Until now the newest version of a published (or retired) question was the one served.
    op.execute(
        "UPDATE questions SET published_version = current_version "
        "WHERE status IN ('published', 'retired')"
    )


def downgrade() -> None:
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_column("published_version")
