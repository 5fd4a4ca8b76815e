"""No public route ever shows a private session, anything unpublished, or a resident's
full name, in any format; private and unknown ids answer 404."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from tests.public.conftest import FULL_NAMES, SECRETS


def _text(response) -> str:
    if response.mimetype == "application/pdf":
        return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    return response.get_data(as_text=True)


def public_routes(town) -> list[str]:
    """Every public route the town has, with and without filters."""
    routes = ["/public/"]
    for community in (town.hehe, town.xiguan):
        base = f"/public/{community.id}"
        routes += [
            base,
            f"{base}/resolutions.json",
            f"{base}/resolutions.csv",
            f"{base}/resolutions.atom",
            f"/board/{community.id}",
        ]
        for query in ("?category=conflict", "?category=concern", "?from=2000-01-01&to=2100-12-31"):
            routes += [
                base + query,
                f"{base}/resolutions.json{query}",
                f"{base}/resolutions.csv{query}",
            ]
    for meeting in (town.published, town.coming, town.cancelled, town.unpublished, *town.weeks):
        routes += [f"/sessions/{meeting.id}/poster", f"/sessions/{meeting.id}/poster.pdf"]
    return routes


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_no_route_shows_names_private_or_unpublished_records(town, client, lang):
    routes = public_routes(town)
    assert len(routes) == 45
    for route in routes:
        response = client.get(route + ("&" if "?" in route else "?") + f"lang={lang}")
        assert response.status_code == 200, route
        text = _text(response)
        for secret in (*FULL_NAMES, *SECRETS):
            assert secret not in text, (route, secret)
        for hidden in (town.private, town.private_future, town.private_cancelled):
            assert not re.search(rf"/sessions/{hidden.id}(?!\d)", text), route


def test_masked_names_are_shown_in_their_place(town, client):
    page = client.get(f"/public/{town.hehe.id}").get_data(as_text=True)
    assert "王**、赵**反映的问题" in page  # the agenda item
    assert "王**同意调整作息，陈**配合" in page  # the resolution
    assert "为赵**家门口修灯" in page  # the action
    assert "李**反映楼道灯不亮" in page  # the case
    poster = client.get(f"/sessions/{town.coming.id}/poster").get_data(as_text=True)
    assert "听取王**的意见" in poster


def _private_ids(town):
    return [
        town.private.id,
        town.private_future.id,
        town.private_cancelled.id,
        0,
        999999,
        2**31,
        2**63,
        10**30,
    ]


def test_private_cancelled_and_unknown_sessions_answer_404(town, client, login_as):
    for suffix in ("poster", "poster.pdf"):
        for meeting_id in _private_ids(town):
            response = client.get(f"/sessions/{meeting_id}/{suffix}")
            assert response.status_code == 404, (suffix, meeting_id)
    # Even staff, who may see the mediation elsewhere, get no public notice of it.
    login_as(town.cadre)
    assert client.get(f"/sessions/{town.private.id}").status_code == 200
    for suffix in ("poster", "poster.pdf"):
        assert client.get(f"/sessions/{town.private.id}/{suffix}").status_code == 404


def test_unknown_communities_answer_404(client, factories):
    factories.make_community("和合社区")
    for path in (
        "/public/{}",
        "/public/{}/resolutions.json",
        "/public/{}/resolutions.csv",
        "/public/{}/resolutions.atom",
        "/board/{}",
    ):
        for community_id in (0, 999999, 2**31, 2**63, 10**30, -1, "x"):
            assert client.get(path.format(community_id)).status_code == 404, path


def test_signed_in_staff_see_the_same_public_records(town, client, login_as):
    """The public routes do not widen for a signed-in cadre: still nothing private."""
    login_as(town.cadre)
    for route in (r for r in public_routes(town) if "?" not in r):
        text = _text(client.get(route))
        for secret in (*FULL_NAMES, *SECRETS):
            assert secret not in text, (route, secret)
