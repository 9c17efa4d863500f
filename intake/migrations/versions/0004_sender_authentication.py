"""Sender authentication: SPF, DKIM and DMARC results of our own mail server, per message.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

COLUMNS = ("spf", "dkim", "dmarc")


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy on SQLite: other tables refer to message).
    for column in COLUMNS:
        op.add_column("message", sa.Column(column, sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message") as batch:
        for column in COLUMNS:
            batch.drop_column(column)
