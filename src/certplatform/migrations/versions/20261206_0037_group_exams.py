"""community: group mock exams of study rooms and their members' attempts

Revision ID: 0037
Revises: 0032
Create Date: 2026-12-06 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0037"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community_group_exams",
        sa.Column("room_id", sa.String(length=32), nullable=False),
        sa.Column("running_room_id", sa.String(length=32), nullable=True),
        sa.Column("started_by", sa.String(length=32), nullable=False),
        sa.Column("blueprint_id", sa.String(length=32), nullable=False),
        sa.Column("certification_code", sa.String(length=64), nullable=False),
        sa.Column("form_name", sa.String(length=200), nullable=False),
        sa.Column("seed", sa.String(length=32), nullable=False),
        sa.Column("question_count", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "missed_question_ids",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["community_rooms.id"],
            name=op.f("fk_community_group_exams_room_id_community_rooms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_group_exams")),
        sa.UniqueConstraint(
            "running_room_id", name=op.f("uq_community_group_exams_running_room_id")
        ),
    )
    with op.batch_alter_table("community_group_exams", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_group_exams_room_id"), ["room_id"], unique=False
        )

    op.create_table(
        "community_group_exam_seats",
        sa.Column("group_exam_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("attempt_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_exam_id"],
            ["community_group_exams.id"],
            name=op.f("fk_community_group_exam_seats_group_exam_id_community_group_exams"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "group_exam_id", "user_id", name=op.f("pk_community_group_exam_seats")
        ),
        sa.UniqueConstraint("attempt_id", name=op.f("uq_community_group_exam_seats_attempt_id")),
    )


def downgrade() -> None:
    op.drop_table("community_group_exam_seats")
    op.drop_table("community_group_exams")
