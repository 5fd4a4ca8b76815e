"""Sessions that have started, with people invited, signed up and recorded present."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consult.extensions import db
from consult.meetings.models import Attendance
from consult.minutes.models import AgendaItem
from consult.types import utcnow


@pytest.fixture
def held(factories):
    """held(kind, invited=n, present=m, units=...) -> (meeting, item, present users).

    ``invited`` people get an invitation (each with an account); the first ``present``
    of them are recorded present. With ``units``, invitee i represents units[i].
    """

    def _held(kind="deliberation", invited=6, present=4, units=(), starts_in=None):
        community = factories.make_community("Hehe")
        meeting = factories.make_meeting(
            community,
            kind=kind,
            starts_in=starts_in if starts_in is not None else -timedelta(minutes=30),
        )
        users = []
        for n in range(invited):
            user = factories.make_user(
                "unit_rep" if units else "resident", name=f"成员{n}", password=None
            )
            unit = units[n] if n < len(units) else None
            if unit is not None:
                user.unit_id = unit.id
            invitation = factories.make_invitation(meeting, user.email, user.name, unit=unit)
            invitation.user_id = user.id
            if n < present:
                db.session.add(
                    Attendance(
                        meeting_id=meeting.id,
                        invitation_id=invitation.id,
                        status="present",
                        recorded_at=utcnow(),
                    )
                )
                users.append(user)
        item = AgendaItem(
            meeting_id=meeting.id, position=1, title="加装电梯方案", created_at=utcnow()
        )
        db.session.add(item)
        db.session.commit()
        return meeting, item, users

    return _held
