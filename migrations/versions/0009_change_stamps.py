"""change stamps: updated_at on users, venues, registrations and invitations

Calendar feeds are cached under a fingerprint of what they show, read in one small
query: the sessions' and series' updated_at, and now also those of the venues and
organisers they name and of the sign-ups and invitations that put a session into a
personal feed. Existing rows take their creation time.

Also an index of invitations by account: a personal feed looks up its owner's
invitations by account or by address, and without it reads every invitation.

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

#: What the new column holds until each row is given its creation time: a constant, so
#: that SQLite adds the NOT NULL column in place (tables that others refer to cannot be
#: copied and dropped while foreign keys are enforced).
PLACEHOLDER = "2000-01-01 00:00:00"


def upgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in TABLES:
        op.add_column(
            table,
            sa.Column(
                "updated_at",
                consult.types.UTCDateTime(timezone=True),
                server_default=sa.text(f"'{PLACEHOLDER}'" if sqlite else f"'{PLACEHOLDER}+00'"),
                nullable=False,
            ),
        )
        op.execute(f"UPDATE {table} SET updated_at = created_at")  # noqa: S608
        if not sqlite:
            # The application always writes the column; SQLite keeps the constant (it
            # cannot drop a default in place), which nothing reads.
            op.alter_column(table, "updated_at", server_default=None)
    op.create_index("ix_invitations_user_id", "invitations", ["user_id"], unique=False)


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_invitations_user_id", table_name="invitations")
    for table in reversed(TABLES):
        if sqlite:
            # In place (SQLite 3.35+): a copy could not replace a table others refer to.
            op.execute(f"ALTER TABLE {table} DROP COLUMN updated_at")
        else:
            op.drop_column(table, "updated_at")
