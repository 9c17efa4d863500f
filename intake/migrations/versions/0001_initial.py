"""Initial schema: folder_state, message, submission, submission_version, document, finding, reply,
tracking_counter.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# Migrations carry their own types: a later change to intake.db must not rewrite history.
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "folder_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=500), nullable=False),
        sa.Column("folder", sa.String(length=500), nullable=False),
        sa.Column("uidvalidity", sa.String(length=64), nullable=False),
        sa.Column("last_uid", sa.String(length=64), nullable=True),
        sa.Column("first_seen_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_folder_state")),
        sa.UniqueConstraint("account", "folder", name=op.f("uq_folder_state_account_folder")),
    )
    op.create_table(
        "tracking_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_tracking_counter")),
    )
    op.create_table(
        "submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tracking_number", sa.String(length=32), nullable=False),
        sa.Column("submitter", sa.String(length=320), nullable=False),
        sa.Column("submitter_name", sa.String(length=500), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint("status IN ('open', 'awaiting_link', 'closed')", name=op.f("ck_submission_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission")),
        sa.UniqueConstraint("tracking_number", name=op.f("uq_submission_tracking_number")),
    )
    # message and submission_version refer to each other: SQLite accepts the forward reference
    # inline (and cannot add it later); PostgreSQL gets it by ALTER once both tables exist.
    message_version_fk = sa.ForeignKeyConstraint(
        ["version_id"], ["submission_version.id"], name=op.f("fk_message_version_id_submission_version"))
    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=500), nullable=False),
        sa.Column("folder", sa.String(length=500), nullable=False),
        sa.Column("uidvalidity", sa.String(length=64), nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("moved", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("claimed_at", UTC, nullable=True),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("raw_path", sa.String(length=1000), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.CheckConstraint("outcome IS NULL OR outcome IN ('processed', 'returned', 'ignored', 'too_large')",
                           name=op.f("ck_message_outcome")),
        sa.CheckConstraint("state IN ('claimed', 'done', 'failed', 'abandoned')", name=op.f("ck_message_state")),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"], name=op.f("fk_message_submission_id_submission")),
        *([message_version_fk] if sqlite else []),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint("account", "folder", "uidvalidity", "uid",
                            name=op.f("uq_message_account_folder_uidvalidity_uid")),
    )
    op.create_index(op.f("ix_message_message_id"), "message", ["message_id"])
    op.create_index(op.f("ix_message_moved"), "message", ["moved"])
    op.create_index(op.f("ix_message_state"), "message", ["state"])
    op.create_index(op.f("ix_message_sha256"), "message", ["sha256"])
    op.create_index(op.f("ix_message_submission_id"), "message", ["submission_id"])
    op.create_index(op.f("ix_message_version_id"), "message", ["version_id"])
    op.create_table(
        "submission_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=1000), nullable=True),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("storage_path", sa.String(length=1000), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["message.id"], name=op.f("fk_submission_version_message_id_message")),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"],
                                name=op.f("fk_submission_version_submission_id_submission")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_version")),
        sa.UniqueConstraint("submission_id", "number", name=op.f("uq_submission_version_submission_id_number")),
    )
    op.create_index(op.f("ix_submission_version_message_id"), "submission_version", ["message_id"])
    op.create_index(op.f("ix_submission_version_submission_id"), "submission_version", ["submission_id"])
    if not sqlite:
        op.create_foreign_key(op.f("fk_message_version_id_submission_version"), "message", "submission_version",
                              ["version_id"], ["id"])
    op.create_table(
        "document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("mime", sa.String(length=200), nullable=False),
        sa.Column("element", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["version_id"], ["submission_version.id"],
                                name=op.f("fk_document_version_id_submission_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
    )
    op.create_index(op.f("ix_document_version_id"), "document", ["version_id"])
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["submission_version.id"],
                                name=op.f("fk_finding_version_id_submission_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding")),
    )
    op.create_index(op.f("ix_finding_version_id"), "finding", ["version_id"])
    op.create_table(
        "reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("source_message_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suppressed_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_at", UTC, nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'suppressed')",
                           name=op.f("ck_reply_status")),
        sa.ForeignKeyConstraint(["source_message_id"], ["message.id"], name=op.f("fk_reply_source_message_id_message")),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"], name=op.f("fk_reply_submission_id_submission")),
        sa.ForeignKeyConstraint(["version_id"], ["submission_version.id"],
                                name=op.f("fk_reply_version_id_submission_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reply")),
        sa.UniqueConstraint("message_id", name=op.f("uq_reply_message_id")),
        sa.UniqueConstraint("source_message_id", name=op.f("uq_reply_source_message_id")),
        sa.UniqueConstraint("version_id", name=op.f("uq_reply_version_id")),
    )
    op.create_index(op.f("ix_reply_recipient_created_at"), "reply", ["recipient", "created_at"])
    op.create_index(op.f("ix_reply_status_next_attempt_at"), "reply", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_reply_submission_id"), "reply", ["submission_id"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f("fk_message_version_id_submission_version"), "message", type_="foreignkey")
    for table in ("reply", "finding", "document", "submission_version", "message", "submission",
                  "tracking_counter", "folder_state"):
        op.drop_table(table)
