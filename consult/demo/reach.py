"""The demo town's group-chat channels and the votes of its past meetings.

Channels point at example.invalid (nothing is ever posted anywhere real). Votes are
recorded through the vote operation, so each meets its meeting's quorum rule against
the recorded attendance; they change none of the programme's figures.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from consult.extensions import db
from consult.meetings.models import Meeting
from consult.minutes.models import AgendaItem, Resolution
from consult.notices.models import Channel
from consult.votes.operations import record_vote
from consult.votes.queries import quorum_state

#: Agenda items put to a vote per community and kind.
VOTES_PER_KIND = 3
#: The demo's signing secrets (of robots that do not exist).
DEMO_SECRETS = {"webhook": "demo-webhook-key", "sms": "demo-sms-key"}


def add_channels(communities: list, now) -> int:
    """Give the first communities a robot each, and the town a webhook and an SMS gateway."""
    robots = [
        (
            "wecom",
            "https://qyapi.weixin.example.invalid/cgi-bin/webhook/send?key=demo-hehe",
            None,
            "居民议事群",
        ),
        (
            "dingtalk",
            "https://oapi.dingtalk.example.invalid/robot/send?access_token=demo-chengbei",
            "SECdemo0000000000000000000000000000000000000000000000000000000000",
            "红管家钉钉群",
        ),
        (
            "feishu",
            "https://open.feishu.example.invalid/open-apis/bot/v2/hook/demo-xiguan",
            "demo-feishu-secret",
            "老街坊飞书群",
        ),
    ]
    for community, (kind, url, secret, name) in zip(communities, robots, strict=False):
        db.session.add(
            Channel(
                community_id=community["id"],
                kind=kind,
                url=url,
                secret=secret,
                language="zh_CN",
                name=name,
                created_at=now,
            )
        )
    db.session.add(
        Channel(
            community_id=None,
            kind="webhook",
            language="en",
            url="https://data.chengguan.example.invalid/hooks/consult",
            secret=DEMO_SECRETS["webhook"],
            name="Town data platform",
            created_at=now,
        )
    )
    db.session.add(
        Channel(
            community_id=None,
            kind="sms",
            language="zh_CN",
            url="https://sms.chengguan.example.invalid/api/send",
            secret=DEMO_SECRETS["sms"],
            name="镇短信平台",
            template="【城关镇】{name}您好，{title}将于{time}在{place}举行。{link}",
            created_at=now,
        )
    )
    db.session.flush()
    return len(communities[: len(robots)]) + 2


def _counts(voters: int, carry: bool, rng) -> dict:
    """For, against and abstaining votes among ``voters``: carried or not."""
    if carry:
        votes_for = max(1, math.ceil(voters * rng.uniform(0.6, 0.9)))
        against = (voters - votes_for) // 2
    else:
        against = max(1, math.ceil(voters * rng.uniform(0.5, 0.7)))
        votes_for = min(voters - against, against - 1) if voters > 1 else 0
    votes_for = max(votes_for, 0)
    return {
        "for": votes_for,
        "against": against,
        "abstain": max(voters - votes_for - against, 0) if rng.random() < 0.5 else 0,
    }


def add_votes(community_ids: list[int], secretaries: dict[int, object], rng) -> int:
    """Put some decisions of past deliberation and joint meetings to a vote."""
    made = 0
    for community_id in community_ids:
        for kind in ("deliberation", "joint_meeting"):
            items = (
                db.session.scalars(
                    select(AgendaItem)
                    .join(Meeting, Meeting.id == AgendaItem.meeting_id)
                    .join(Resolution, Resolution.agenda_item_id == AgendaItem.id)
                    .where(
                        Meeting.community_id == community_id,
                        Meeting.kind == kind,
                        Meeting.status == "held",
                    )
                    .options(joinedload(AgendaItem.meeting), joinedload(AgendaItem.resolution))
                    .order_by(Meeting.starts_at.desc(), AgendaItem.position)
                    .limit(VOTES_PER_KIND * 4)
                )
                .unique()
                .all()
            )
            taken = 0
            for item in items:
                if taken == VOTES_PER_KIND or item.vote is not None:
                    continue
                state = quorum_state(item.meeting)
                if not state.reached or state.max_votes < 1:
                    continue
                carry = item.resolution.outcome != "deferred"
                vote = record_vote(
                    item, _counts(state.max_votes, carry, rng), secretaries.get(community_id)
                )
                if (vote.result == "carried") != carry:
                    db.session.delete(vote)
                    db.session.flush()
                    continue
                vote.created_at = item.resolution.created_at - timedelta(minutes=2)
                taken += 1
                made += 1
    db.session.flush()
    return made
