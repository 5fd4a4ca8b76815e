"""community scope: no change of schema

Town-level staff are staff accounts with no community membership, so the scoping of
staff needs no new column. The revision stays in the chain so that the order of the
second stage's migrations holds.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 07:30:00

"""
from alembic import op
import sqlalchemy as sa

import consult.types


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
