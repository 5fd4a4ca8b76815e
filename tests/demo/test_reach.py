"""The demo town's channels and votes: nothing real is posted to, every vote meets its
quorum against the recorded attendance, and the published figures stay as they are."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from consult.extensions import db
from consult.mail.models import OutboxMessage
from consult.minutes.models import AgendaItem
from consult.notices.models import Channel
from consult.votes.models import Vote
from consult.votes.queries import quorum_state
from tests.demo.test_load import admin_api, assert_figures, load


def test_demo_channels_and_votes(runner, api_as):
    result = load(runner)
    assert result.exit_code == 0, result.output
    db.session.rollback()
    channels = db.session.scalars(select(Channel)).all()
    assert {c.kind for c in channels} == {"wecom", "dingtalk", "feishu", "webhook", "sms"}
    assert all(urlsplit(c.url).hostname.endswith(".example.invalid") for c in channels)
    assert any(c.community_id is None for c in channels)

    votes = (
        db.session.scalars(
            select(Vote).options(joinedload(Vote.agenda_item).joinedload(AgendaItem.meeting))
        )
        .unique()
        .all()
    )
    kinds = {v.agenda_item.meeting.kind for v in votes}
    assert kinds == {"deliberation", "joint_meeting"}
    assert len(votes) >= 16
    for vote in votes:
        meeting = vote.agenda_item.meeting
        assert meeting.status == "held" and vote.agenda_item.resolution is not None
        state = quorum_state(meeting)
        assert vote.quorum_present == state.present >= vote.quorum_required == state.required
        assert vote.total <= state.max_votes
        assert (vote.result == "carried") == (vote.agenda_item.resolution.outcome != "deferred")
    assert_figures(admin_api(api_as, result), 1)
    # Loading the demo posts nothing: no notice waits in the outbox.
    assert (
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.transport == "channel")
        )
        == 0
    )
