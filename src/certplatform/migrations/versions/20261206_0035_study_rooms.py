"""community: study rooms, their members (and bans) and chat messages

Revision ID: 0035
Revises: 0036
Create Date: 2026-12-06 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community_rooms",
        sa.Column("owner_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("invite_code", sa.String(length=32), nullable=False),
        sa.Column("certification_code", sa.String(length=64), nullable=True),
        sa.Column("timer_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("focus_seconds", sa.Integer(), nullable=False),
        sa.Column("break_seconds", sa.Integer(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_rooms")),
        sa.UniqueConstraint("invite_code", name=op.f("uq_community_rooms_invite_code")),
    )
    with op.batch_alter_table("community_rooms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_community_rooms_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(
            "ix_community_rooms_listing", ["visibility", "created_at"], unique=False
        )

    op.create_table(
        "community_room_members",
        sa.Column("room_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("banned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("banned_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["community_rooms.id"],
            name=op.f("fk_community_room_members_room_id_community_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_community_room_members")),
    )
    with op.batch_alter_table("community_room_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_room_members_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "community_room_messages",
        sa.Column("room_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_by", sa.String(length=32), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["community_rooms.id"],
            name=op.f("fk_community_room_messages_room_id_community_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_room_messages")),
    )
    with op.batch_alter_table("community_room_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_community_room_messages_history", ["room_id", "created_at", "id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("community_room_messages")
    op.drop_table("community_room_members")
    op.drop_table("community_rooms")
