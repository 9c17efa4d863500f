"""Who may speak for a case besides its submitter (addresses QA adds), and a message for the next
page kept in the workbench session (never in the URL). Issue 24.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy on SQLite: other tables refer to both).
    op.add_column("submission", sa.Column("correspondents", sa.JSON(), nullable=True))
    op.add_column("web_session", sa.Column("flash", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("web_session") as batch:
        batch.drop_column("flash")
    with op.batch_alter_table("submission") as batch:
        batch.drop_column("correspondents")
