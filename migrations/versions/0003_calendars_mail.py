"""calendars and mail: reply addresses, import encodings

No change of schema. Calendar replies received by `flask mail receive` are recorded in
the columns the signed RSVP links already use (invitations.partstat, responded_at);
MAIL_REPLY_TO is configuration; the encoding of an import is reported, not stored; a
series cancelled from some week on keeps its rule in series.rrule, ended with UNTIL.
The revision stays in the chain so that the order of the second stage's migrations
holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 07:30:00

"""
from alembic import op
import sqlalchemy as sa

import consult.types


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
