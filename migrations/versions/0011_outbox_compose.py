"""outbox.compose: messages composed when they are sent

A sign-up's confirmation (and a promotion from the waiting list) was composed in the
request, after the commit: a QR code, a calendar and a MIME message took most of the
sign-up's time, and a process stopped between the commit and the composing lost the
mail. Now the row is written in the sign-up's own transaction with ``compose`` naming
what it tells of ("confirmation:<registration>:<account>"), and the delivery composes it
when it claims it, in the recipient's language, then keeps the composed message (the
same one is sent again on a retry).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 15:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('outbox', sa.Column('compose', sa.String(length=80), nullable=True))


def downgrade():
    # In place on SQLite too (3.35+), as 0010 does.
    op.execute("ALTER TABLE outbox DROP COLUMN compose")
