"""Line separators and other control characters in free text, and mail headers that
no text can break (U+2028, U+2029, U+0085 made every mail about a session fail)."""

from __future__ import annotations

import pytest

from consult.errors import RefusedInput, clean_text
from consult.extensions import db
from consult.text import header_text

SEPARATORS = ["\u2028", "\u2029", "\x85"]


@pytest.fixture
def in_request(app):
    """Messages are translated: read them inside a request."""
    with app.test_request_context():
        yield


OTHER_CONTROLS = ["\x00", "\x07", "\x1c", "\x7f", "\x9b", "\u202e"]


@pytest.mark.parametrize("char", SEPARATORS + ["\n", "\r"] + OTHER_CONTROLS)
def test_single_line_text_refuses_breaks_and_controls(in_request, char):
    with pytest.raises(RefusedInput, match="control character"):
        clean_text(f"Friday{char}Talk", "title", 200)


@pytest.mark.parametrize("char", SEPARATORS + ["\r\n", "\r"])
def test_multi_line_text_turns_every_line_break_into_a_newline(in_request, char):
    assert clean_text(f"one{char}two", "description", 200, multiline=True) == "one\ntwo"


@pytest.mark.parametrize("char", OTHER_CONTROLS)
def test_multi_line_text_still_refuses_other_controls(in_request, char):
    with pytest.raises(RefusedInput):
        clean_text(f"one{char}two", "description", 200, multiline=True)


def test_ordinary_text_passes_unchanged(in_request):
    text = "和合社区 · Friday Talk — «民情恳谈» 👩‍👩‍👧\tend"
    assert clean_text(text, "description", 200, multiline=True) == text


@pytest.mark.parametrize("char", SEPARATORS + ["\n", "\r", "\x0b", "\x0c", "\x1e", "\x00"])
def test_header_text_is_one_line(char):
    assert header_text(f"  Friday{char}{char}Talk  ") == "Friday Talk"


SESSION = {
    "kind": "roundtable",
    "community": "Hehe",
    "starts_at": "2031-03-07T15:00:00+08:00",
    "ends_at": "2031-03-07T17:00:00+08:00",
    "timezone": "Asia/Shanghai",
}


@pytest.mark.parametrize("char", SEPARATORS)
def test_the_api_refuses_a_title_with_a_line_separator(api_as, factories, char):
    api = api_as(factories.make_user("cadre"))
    response = api.post("/api/v1/sessions", json={**SESSION, "title": f"Friday{char}Talk"})
    assert response.status_code == 422
    assert "title" in response.get_json()["error"]["fields"]


def test_the_api_normalises_line_separators_in_a_description(api_as, factories):
    from consult.meetings.models import Meeting

    api = api_as(factories.make_user("cadre"))
    response = api.post(
        "/api/v1/sessions",
        json={**SESSION, "title": "Friday Talk", "description": "one\u2028two\u2029three\x85four"},
    )
    assert response.status_code == 201, response.get_json()
    meeting = db.session.get(Meeting, response.get_json()["id"])
    assert meeting.description == "one\ntwo\nthree\nfour"


def test_the_page_refuses_a_title_with_a_line_separator(client, factories, login_as):
    from tests.conftest import csrf_token_from

    community = factories.make_community("Hehe")
    cadre = factories.make_user("cadre", community=community.name)
    login_as(cadre)
    meeting = factories.make_meeting(community)
    page = client.get(f"/sessions/{meeting.id}/edit")
    assert page.status_code == 200
    from consult.meetings import recurrence

    tz = recurrence.zone(meeting.timezone)
    response = client.post(
        f"/sessions/{meeting.id}/edit",
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "title": "Friday\u2028Talk",
            "starts_at": recurrence.wall_clock(meeting.starts_at, tz).strftime("%Y-%m-%dT%H:%M"),
            "ends_at": recurrence.wall_clock(meeting.ends_at, tz).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code in (200, 422)
    assert "control character" in response.get_data(as_text=True)
    db.session.refresh(meeting)
    assert "\u2028" not in meeting.title
