"""One object of every kind a page URL names, and every page URL filled from them."""

from __future__ import annotations

from datetime import date

from consult.extensions import db
from tests.conftest import is_test_route


def build_world(factories):
    """One object of every kind a page URL names, all visible to the administrator."""
    from consult.attendance.links import checkin_token, rsvp_token
    from consult.calendar.operations import create_feed
    from consult.community.models import Agreement
    from consult.minutes.operations import add_agenda_item

    community = factories.make_community("Hehe")
    admin = factories.make_user("admin", community=None)
    resident = factories.make_user("resident", community="Hehe")
    meeting = factories.make_meeting(community, kind="roundtable")
    venue = factories.make_venue(community)
    unit = factories.make_unit()
    member = factories.make_alliance_member(community, unit)
    agreement = Agreement(
        community_id=community.id,
        unit_id=unit.id,
        signed_on=date(2026, 1, 5),
        commitments="Volunteers",
    )
    db.session.add(agreement)
    case = factories.make_case(community)
    issue = factories.make_issue(community, cases=[case])
    item = add_agenda_item(meeting, {"title": "Parking", "issue": issue.id}, admin)
    registration = factories.make_signup(meeting, resident)
    invitation = factories.make_invitation(meeting)
    _feed, feed_secret = create_feed({"scope": "mine"}, admin)
    db.session.commit()
    ids = {
        "agreement_id": agreement.id,
        "community_id": community.id,
        "unit_id": unit.id,
        "user_id": resident.id,
        "venue_id": venue.id,
        "item_id": item.id,
        "case_id": case.id,
        "issue_id": issue.id,
        "registration_id": registration.id,
        "meeting_id": meeting.id,
        "session_id": meeting.id,
        "member_id": member.id,
        "series_id": meeting.series_id,
    }
    tokens = {
        "calendar.feed": feed_secret,
        "attendance.rsvp": rsvp_token(invitation.id, "ACCEPTED"),
        "attendance.checkin": checkin_token(registration.id),
    }
    return admin, ids, tokens


def page_urls(app, ids: dict, tokens: dict) -> list[str]:
    """Every GET route outside the API, its arguments filled from ``world``."""
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint == "static":
            continue
        if rule.rule.startswith("/api/") or is_test_route(app, rule.endpoint):
            continue
        values = {}
        for name in rule.arguments:
            if name == "token":
                values[name] = tokens[rule.endpoint]
            elif rule.endpoint == "web.stats_csv" and name == "name":
                from consult.web.views import TABLES

                values[name] = next(iter(TABLES))
            else:
                assert ids.get(name) is not None, f"{rule.rule}: give the test a {name}"
                values[name] = ids[name]
        urls.append(rule.build(values, append_unknown=False)[1])
    return urls
