"""hardening: sign-in generations, stable Message-IDs

Adds ``users.session_generation``: a counter that is part of the identifier kept in
the session and in the remember cookie. Signing out, changing one's password and an
administrator's password reset increase it, so every session and remember cookie of
that account stops working at once.

Adds ``outbox.message_id``: the Message-ID of an outbox message, generated when it
is queued and sent unchanged on every attempt, so that receiving servers and clients
can recognise a message delivered twice (delivery is at least once). Rows queued
before this migration keep the Message-ID their stored text already carries.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 07:30:00

"""
from alembic import op
import sqlalchemy as sa

import consult.types


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False)
        )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('message_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
