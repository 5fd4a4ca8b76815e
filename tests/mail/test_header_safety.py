"""No title can break a mail header: sign-ups to a session whose title holds a line
separator succeed, and the confirmation reaches the SMTP server."""

from __future__ import annotations

import pytest

SEPARATORS = ["\u2028", "\u2029", "\x85"]


@pytest.mark.parametrize("char", SEPARATORS)
def test_sign_ups_to_a_session_with_such_a_title_succeed_and_mail_arrives(
    app, api_as, factories, mailbox, char
):
    """A title stored before these rules (or by any other way) still mails fine."""
    from consult.extensions import db

    meeting = factories.make_meeting()
    meeting.title = f"Friday{char}Talk{char}Day"  # stored as it is, past the operation's rules
    resident = factories.make_user("resident")
    resident.name = f"Wang{char}Fang"  # stored as it is, as older data may be
    db.session.commit()
    response = api_as(resident).post(f"/api/v1/sessions/{meeting.id}/registrations", json={})
    assert response.status_code == 201, response.get_json()
    (message,) = mailbox.send()
    assert "Friday Talk Day" in str(message["Subject"])
    assert char not in str(message["Subject"])
    assert "Wang Fang" in str(message["To"]) and resident.email in str(message["To"])
