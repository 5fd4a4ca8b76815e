"""foundation: the Idempotency-Key of sign-ups

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 07:30:00

"""
from alembic import op
import sqlalchemy as sa

import consult.types


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            "uq_registrations_meeting_id_idempotency_key", ["meeting_id", "idempotency_key"]
        )


def downgrade():
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_registrations_meeting_id_idempotency_key", type_="unique")
        batch_op.drop_column("idempotency_key")
