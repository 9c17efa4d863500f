"""The company record: company (one per WCB account) and company_case (a case's link to it).

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "company",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wcb_account", sa.String(length=20), nullable=False),
        sa.Column("legal_name", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_company")),
        sa.UniqueConstraint("wcb_account", name=op.f("uq_company_wcb_account")),
    )
    op.create_table(
        "company_case",
        sa.Column("submission_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=True),
        sa.Column("linked_by", sa.String(length=16), nullable=False),
        sa.Column("linked_at", UTC, nullable=False),
        sa.CheckConstraint("linked_by IN ('tool', 'analyst')", name=op.f("ck_company_case_linked_by")),
        sa.ForeignKeyConstraint(["company_id"], ["company.id"], name=op.f("fk_company_case_company_id_company")),
        sa.ForeignKeyConstraint(["submission_id"], ["submission.id"],
                                name=op.f("fk_company_case_submission_id_submission")),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("pk_company_case")),
    )
    op.create_index(op.f("ix_company_case_company_id"), "company_case", ["company_id"])


def downgrade() -> None:
    op.drop_table("company_case")
    op.drop_table("company")
