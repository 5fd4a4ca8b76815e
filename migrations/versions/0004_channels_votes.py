"""notice channels and votes

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 07:30:00

"""
from alembic import op
import sqlalchemy as sa

import consult.types


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('channels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('secret', sa.String(length=255), nullable=True),
    sa.Column('language', sa.String(length=10), nullable=False),
    sa.Column('template', sa.Text(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', consult.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('wecom', 'dingtalk', 'feishu', 'webhook', 'sms')", name=op.f('ck_channels_kind')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_channels_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_channels_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels'))
    )
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channels_community_id'), ['community_id'], unique=False)

    op.create_table('quorum_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('base', sa.String(length=10), nullable=False),
    sa.Column('presence_numerator', sa.Integer(), nullable=False),
    sa.Column('presence_denominator', sa.Integer(), nullable=False),
    sa.Column('majority', sa.String(length=10), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', consult.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("base IN ('expected', 'units', 'none')", name=op.f('ck_quorum_rules_base')),
    sa.CheckConstraint("kind IN ('roundtable', 'friday_talk', 'joint_meeting', 'sentiment_talk', 'deliberation', 'mediation')", name=op.f('ck_quorum_rules_kind')),
    sa.CheckConstraint("majority IN ('simple', 'two_thirds', 'unanimous')", name=op.f('ck_quorum_rules_majority')),
    sa.CheckConstraint('presence_denominator >= 1 AND presence_numerator >= 0 AND presence_numerator <= presence_denominator', name=op.f('ck_quorum_rules_presence')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_quorum_rules_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_quorum_rules_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quorum_rules')),
    sa.UniqueConstraint('community_id', 'kind', name=op.f('uq_quorum_rules_community_id_kind'))
    )
    op.create_table('votes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agenda_item_id', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('votes_for', sa.Integer(), nullable=False),
    sa.Column('votes_against', sa.Integer(), nullable=False),
    sa.Column('votes_abstain', sa.Integer(), nullable=False),
    sa.Column('result', sa.String(length=10), nullable=False),
    sa.Column('base', sa.String(length=10), nullable=False),
    sa.Column('majority', sa.String(length=10), nullable=False),
    sa.Column('quorum_required', sa.Integer(), nullable=False),
    sa.Column('quorum_present', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', consult.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("base IN ('expected', 'units', 'none')", name=op.f('ck_votes_base')),
    sa.CheckConstraint("majority IN ('simple', 'two_thirds', 'unanimous')", name=op.f('ck_votes_majority')),
    sa.CheckConstraint("method IN ('counts', 'ballots')", name=op.f('ck_votes_method')),
    sa.CheckConstraint("result IN ('carried', 'rejected')", name=op.f('ck_votes_result')),
    sa.CheckConstraint('votes_for >= 0 AND votes_against >= 0 AND votes_abstain >= 0', name=op.f('ck_votes_counts')),
    sa.ForeignKeyConstraint(['agenda_item_id'], ['agenda_items.id'], name=op.f('fk_votes_agenda_item_id_agenda_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_votes_recorded_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_votes')),
    sa.UniqueConstraint('agenda_item_id', name=op.f('uq_votes_agenda_item_id'))
    )
    op.create_table('vote_ballots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vote_id', sa.Integer(), nullable=False),
    sa.Column('attendance_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('choice', sa.String(length=10), nullable=False),
    sa.CheckConstraint("choice IN ('for', 'against', 'abstain')", name=op.f('ck_vote_ballots_choice')),
    sa.ForeignKeyConstraint(['attendance_id'], ['attendance.id'], name=op.f('fk_vote_ballots_attendance_id_attendance'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_vote_ballots_unit_id_units'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_vote_ballots_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['vote_id'], ['votes.id'], name=op.f('fk_vote_ballots_vote_id_votes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vote_ballots')),
    sa.UniqueConstraint('vote_id', 'attendance_id', name=op.f('uq_vote_ballots_vote_id_attendance_id'))
    )
    with op.batch_alter_table('vote_ballots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vote_ballots_vote_id'), ['vote_id'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('transport', sa.String(length=10), server_default='mail', nullable=False))
        batch_op.add_column(sa.Column('channel_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_channel_id'), ['channel_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_outbox_channel_id_channels'), 'channels', ['channel_id'], ['id'], ondelete='SET NULL')
        batch_op.create_check_constraint(batch_op.f('ck_outbox_transport'), "transport IN ('mail', 'channel')")



def downgrade():
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_outbox_transport'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_outbox_channel_id_channels'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_outbox_channel_id'))
        batch_op.drop_column('channel_id')
        batch_op.drop_column('transport')

    with op.batch_alter_table('vote_ballots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vote_ballots_vote_id'))

    op.drop_table('vote_ballots')
    op.drop_table('votes')
    op.drop_table('quorum_rules')
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channels_community_id'))

    op.drop_table('channels')
