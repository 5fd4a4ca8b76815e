"""public pages and posters: no change of schema

The public pages, the noticeboard and the posters read what minutes, resolutions,
cases and votes already store. The revision stays in the chain so that the order of
the second stage's migrations holds.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 07:30:00

"""
from alembic import op
import sqlalchemy as sa

import consult.types


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
