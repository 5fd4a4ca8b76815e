"""the people's side: a case's timeline says when a case stays open as its issue is resolved

Resolving an issue must close each of its cases still being handled or say why some
stay open; the reason is written on the timeline of each case left open, as a case
event of the new kind ``left_open``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 07:30:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('created', 'status', 'level', 'issue', 'comment')"
NEW_KINDS = "kind IN ('created', 'status', 'level', 'issue', 'comment', 'left_open')"


def upgrade():
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_case_events_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_case_events_kind'), NEW_KINDS)


def downgrade():
    op.execute("UPDATE case_events SET kind = 'comment' WHERE kind = 'left_open'")
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_case_events_kind'), type_='check')
        batch_op.create_check_constraint(op.f('ck_case_events_kind'), OLD_KINDS)
