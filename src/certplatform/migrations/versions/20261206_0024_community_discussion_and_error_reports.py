"""community: per-question discussion, error reports (이의 신고) and notices

Revision ID: 0024
Revises: 0030
Create Date: 2026-12-06 15:51:14.180894
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "community_comments",
        sa.Column("question_id", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_by", sa.String(length=32), nullable=True),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_comments")),
    )
    with op.batch_alter_table("community_comments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_community_comments_author_id"), ["author_id"], unique=False
        )
        batch_op.create_index(
            "ix_community_comments_thread", ["question_id", "created_at"], unique=False
        )

    op.create_table(
        "community_error_reports",
        sa.Column("question_id", sa.String(length=32), nullable=False),
        sa.Column("certification_code", sa.String(length=64), nullable=False),
        sa.Column("reported_version", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=32), nullable=True),
        sa.Column("resolved_version", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(length=1000), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_error_reports")),
    )
    with op.batch_alter_table("community_error_reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_community_error_reports_question", ["question_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_community_error_reports_queue",
            ["status", "certification_code", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_community_error_reports_reporter_id"), ["reporter_id"], unique=False
        )

    op.create_table(
        "community_notices",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("question_id", sa.String(length=32), nullable=False),
        sa.Column("report_id", sa.String(length=32), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_community_notices")),
    )
    with op.batch_alter_table("community_notices", schema=None) as batch_op:
        batch_op.create_index("ix_community_notices_user", ["user_id", "created_at"], unique=False)

    op.create_table(
        "community_comment_reports",
        sa.Column("comment_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["community_comments.id"],
            name=op.f("fk_community_comment_reports_comment_id_community_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("comment_id", "user_id", name=op.f("pk_community_comment_reports")),
    )
    op.create_table(
        "community_votes",
        sa.Column("comment_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("value", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["community_comments.id"],
            name=op.f("fk_community_votes_comment_id_community_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("comment_id", "user_id", name=op.f("pk_community_votes")),
    )


def downgrade() -> None:
    op.drop_table("community_votes")
    op.drop_table("community_comment_reports")
    with op.batch_alter_table("community_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_community_notices_user")

    op.drop_table("community_notices")
    with op.batch_alter_table("community_error_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_community_error_reports_reporter_id"))
        batch_op.drop_index("ix_community_error_reports_queue")
        batch_op.drop_index("ix_community_error_reports_question")

    op.drop_table("community_error_reports")
    with op.batch_alter_table("community_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_community_comments_thread")
        batch_op.drop_index(batch_op.f("ix_community_comments_author_id"))

    op.drop_table("community_comments")
