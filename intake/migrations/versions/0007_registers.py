"""The association's registers (members, training, certificates), their imports, maintenance reminders.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "register_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=1000), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("imported_at", UTC, nullable=False),
        sa.CheckConstraint("register IN ('members', 'training', 'certificates')",
                           name=op.f("ck_register_import_register")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_import")),
    )
    op.create_index(op.f("ix_register_import_register_imported_at"), "register_import", ["register", "imported_at"])
    op.create_table(
        "register_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wcb_account", sa.String(length=10), nullable=False),
        sa.Column("legal_name", sa.String(length=500), nullable=True),
        sa.Column("member_since", sa.Date(), nullable=False),
        sa.Column("member_until", sa.Date(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_member")),
    )
    op.create_index(op.f("ix_register_member_wcb_account"), "register_member", ["wcb_account"])
    op.create_table(
        "register_training",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("name_key", sa.String(length=500), nullable=False),
        sa.Column("wcb_account", sa.String(length=10), nullable=True),
        sa.Column("course", sa.String(length=500), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_training")),
    )
    op.create_index(op.f("ix_register_training_name_key"), "register_training", ["name_key"])
    op.create_index(op.f("ix_register_training_wcb_account"), "register_training", ["wcb_account"])
    op.create_table(
        "register_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wcb_account", sa.String(length=10), nullable=False),
        sa.Column("legal_name", sa.String(length=500), nullable=True),
        sa.Column("program", sa.String(length=8), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_certificate")),
    )
    op.create_index(op.f("ix_register_certificate_wcb_account"), "register_certificate", ["wcb_account"])
    op.create_table(
        "maintenance_reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wcb_account", sa.String(length=10), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["reply_id"], ["reply.id"], name=op.f("fk_maintenance_reminder_reply_id_reply")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_reminder")),
        sa.UniqueConstraint("wcb_account", "issued_on", "year",
                            name=op.f("uq_maintenance_reminder_wcb_account_issued_on_year")),
    )


def downgrade() -> None:
    op.drop_table("maintenance_reminder")
    op.drop_table("register_certificate")
    op.drop_table("register_training")
    op.drop_table("register_member")
    op.drop_table("register_import")
