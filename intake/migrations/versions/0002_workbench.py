"""The QA workbench: users, sessions, sign-in attempts, decisions, notes, the append-only audit trail,
and QA's state, age and assignee on each case.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = sa.DateTime(timezone=True)
QA_STATES = "'new', 'in_review', 'awaiting_documents', 'resubmitted', 'accepted', 'returned'"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "web_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint("role IN ('analyst', 'admin')", name=op.f("ck_web_user_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_user")),
        sa.UniqueConstraint("username", name=op.f("uq_web_user_username")),
    )
    # Added columns, not a copied table: SQLite's batch copy would drop a table others refer to.
    check = f"CONSTRAINT ck_submission_qa_state CHECK (qa_state IN ({QA_STATES}))"
    if sqlite:
        op.execute(f"ALTER TABLE submission ADD COLUMN qa_state VARCHAR(24) DEFAULT 'new' NOT NULL {check}")
        op.execute("ALTER TABLE submission ADD COLUMN qa_since DATETIME")
        op.execute("ALTER TABLE submission ADD COLUMN assignee_id INTEGER "
                   "CONSTRAINT fk_submission_assignee_id_web_user REFERENCES web_user (id)")
    else:
        op.add_column("submission", sa.Column("qa_state", sa.String(length=24), server_default="new", nullable=False))
        op.add_column("submission", sa.Column("qa_since", UTC, nullable=True))
        op.add_column("submission", sa.Column("assignee_id", sa.Integer(), nullable=True))
        op.create_check_constraint(op.f("ck_submission_qa_state"), "submission", f"qa_state IN ({QA_STATES})")
        op.create_foreign_key(op.f("fk_submission_assignee_id_web_user"), "submission", "web_user",
                              ["assignee_id"], ["id"])
    op.create_index(op.f("ix_submission_qa_state"), "submission", ["qa_state"])
    op.create_index(op.f("ix_submission_assignee_id"), "submission", ["assignee_id"])
    op.create_table(
        "web_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_seen_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["web_user.id"], name=op.f("fk_web_session_user_id_web_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_session")),
    )
    op.create_index(op.f("ix_web_session_user_id"), "web_session", ["user_id"])
    op.create_table(
        "sign_in_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=100), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempt")),
    )
    op.create_index(op.f("ix_sign_in_attempt_username_at"), "sign_in_attempt", ["username", "at"])
    op.create_index(op.f("ix_sign_in_attempt_address_at"), "sign_in_attempt", ["address", "at"])
    op.create_table(
        "decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=24), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=False),
        sa.Column("decided_at", UTC, nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("decision IN ('accept', 'return', 'request_documents')", name=op.f("ck_decision_decision")),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"], name=op.f("fk_decision_submission_id_submission")),
        sa.ForeignKeyConstraint(["version_id"], ["submission_version.id"],
                                name=op.f("fk_decision_version_id_submission_version")),
        sa.ForeignKeyConstraint(["decided_by"], ["web_user.id"], name=op.f("fk_decision_decided_by_web_user")),
        sa.ForeignKeyConstraint(["reply_id"], ["reply.id"], name=op.f("fk_decision_reply_id_reply")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_decision_idempotency_key")),
        sa.UniqueConstraint("submission_id", "sequence", name=op.f("uq_decision_submission_id_sequence")),
    )
    op.create_index(op.f("ix_decision_submission_id"), "decision", ["submission_id"])
    op.create_table(
        "case_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"], name=op.f("fk_case_note_submission_id_submission")),
        sa.ForeignKeyConstraint(["user_id"], ["web_user.id"], name=op.f("fk_case_note_user_id_web_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_note")),
    )
    op.create_index(op.f("ix_case_note_submission_id"), "case_note", ["submission_id"])
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["web_user.id"], name=op.f("fk_audit_entry_user_id_web_user")),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"],
                                name=op.f("fk_audit_entry_submission_id_submission")),
        sa.ForeignKeyConstraint(["document_id"], ["document.id"], name=op.f("fk_audit_entry_document_id_document")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    op.create_index(op.f("ix_audit_entry_submission_id"), "audit_entry", ["submission_id"])
    # The audit trail is append-only in the database itself, not only by convention.
    if sqlite:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
                       "BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END")
    else:
        op.execute("CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$ BEGIN RAISE EXCEPTION 'audit_entry is append-only'; END $$")
        op.execute("CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry "
                   "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry")
        op.execute("DROP FUNCTION IF EXISTS audit_entry_append_only()")
    for table in ("audit_entry", "case_note", "decision", "sign_in_attempt", "web_session"):
        op.drop_table(table)
    op.drop_index(op.f("ix_submission_assignee_id"), "submission")
    op.drop_index(op.f("ix_submission_qa_state"), "submission")
    with op.batch_alter_table("submission") as batch:
        if op.get_bind().dialect.name != "sqlite":
            batch.drop_constraint(op.f("fk_submission_assignee_id_web_user"), type_="foreignkey")
            batch.drop_constraint(op.f("ck_submission_qa_state"), type_="check")
        batch.drop_column("assignee_id")
        batch.drop_column("qa_since")
        batch.drop_column("qa_state")
    op.drop_table("web_user")
