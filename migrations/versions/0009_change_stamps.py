"""change stamps: updated_at on users, venues, registrations and invitations

Calendar feeds are cached under a fingerprint of what they show, read in one small
query: the sessions' and series' updated_at, and now also those of the venues and
organisers they name and of the sign-ups and invitations that put a session into a
personal feed. Existing rows take their creation time.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 09:00:00

"""
from alembic import op
import sqlalchemy as sa

import consult.types


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ("users", "venues", "registrations", "invitations")


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("updated_at", consult.types.UTCDateTime(timezone=True), nullable=True)
            )
        op.execute(f"UPDATE {table} SET updated_at = created_at")  # noqa: S608
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "updated_at",
                existing_type=consult.types.UTCDateTime(timezone=True),
                nullable=False,
            )


def downgrade():
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("updated_at")
