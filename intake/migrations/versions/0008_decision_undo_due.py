"""The workbench's second round: a decision can be undone, Request documents' due date is tracked on
the case, and its one reminder is recorded.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

UTC = sa.DateTime(timezone=True)

revision: str = "0008"
down_revision: Union[str, Sequence[str], None] = "0007"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Plain ADD COLUMN on submission (other tables refer to it: no batch copy on SQLite).
    op.add_column("submission", sa.Column("qa_due_on", sa.Date(), nullable=True))
    with op.batch_alter_table("decision") as batch:  # nothing refers to decision: a copy is safe
        batch.add_column(sa.Column("undone_at", UTC, nullable=True))
        batch.add_column(sa.Column("undone_by", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reminder_reply_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_decision_undone_by_web_user"), "web_user", ["undone_by"], ["id"])
        batch.create_foreign_key(op.f("fk_decision_reminder_reply_id_reply"), "reply", ["reminder_reply_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("decision") as batch:
        if op.get_bind().dialect.name != "sqlite":
            batch.drop_constraint(op.f("fk_decision_undone_by_web_user"), type_="foreignkey")
            batch.drop_constraint(op.f("fk_decision_reminder_reply_id_reply"), type_="foreignkey")
        batch.drop_column("reminder_reply_id")
        batch.drop_column("undone_by")
        batch.drop_column("undone_at")
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("qa_due_on")
