"""audit entries name their hash algorithm and key

Revision ID: 0009
Revises: 0012
Create Date: 2026-12-06 15:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain ADD COLUMN on both databases: no SQLite batch rebuild, so the append-only triggers
# of migration 0002 stay, and existing rows are not updated (the triggers would refuse).
# Existing entries were hashed without a key: the default names that algorithm (ADR 0012).


def upgrade() -> None:
    op.add_column(
        "audit_entries",
        sa.Column("alg", sa.String(length=20), server_default="sha256-v1", nullable=False),
    )
    op.add_column("audit_entries", sa.Column("key_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # Dropping columns would rebuild the SQLite table (losing its triggers) and forget
    # which entries are keyed; the chain cannot go back to unkeyed hashes anyway.
    raise NotImplementedError("audit entries cannot go back to unkeyed hashes")
