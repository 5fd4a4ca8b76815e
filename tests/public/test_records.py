"""The accountability page and its open data: what each resolution record says."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from consult.public.documents import CSV_COLUMNS
from consult.public.queries import level_days_of

ATOM = "{http://www.w3.org/2005/Atom}"


def test_days_at_each_level_run_from_opening_through_escalations_to_the_resolution():
    opened = datetime(2026, 11, 1, 8, tzinfo=UTC)
    case = SimpleNamespace(created_at=opened, level=3)
    events = [
        SimpleNamespace(id=1, kind="created", at=opened, from_value=None, to_value="open"),
        SimpleNamespace(
            id=2, kind="level", at=opened + timedelta(days=2), from_value="1", to_value="2"
        ),
        SimpleNamespace(
            id=3,
            kind="level",
            at=opened + timedelta(days=5, hours=12),
            from_value="2",
            to_value="3",
        ),
    ]
    level, days = level_days_of(case, events, opened + timedelta(days=9))
    assert (level, days) == (3, {"1": 2.0, "2": 3.5, "3": 3.5})
    # Resolved before the second escalation: level 2 solved it.
    level, days = level_days_of(case, events, opened + timedelta(days=3))
    assert (level, days) == (2, {"1": 2.0, "2": 1.0})


def test_json_gives_each_published_resolution_with_cases_evaluation_and_actions(town, client):
    body = client.get(f"/public/{town.hehe.id}/resolutions.json").get_json()
    assert body["community"] == {"id": town.hehe.id, "name": "和合社区", "brand": "和合新邻"}
    assert body["total"] == 1
    (record,) = body["items"]
    assert record["id"] == town.resolution.id
    assert record["outcome"] == "resolved"
    assert record["session"]["id"] == town.published.id
    assert record["session"]["url"] == f"http://consult.test/sessions/{town.published.id}"
    assert record["published_at"].endswith("+08:00")
    # The case raised at the private mediation is left out; the others are there.
    cases = {c["id"]: c for c in record["cases"]}
    assert set(cases) == {town.case_lit.id, town.case_noise.id}
    lit = cases[town.case_lit.id]
    assert lit["category"] == "concern"
    assert lit["level"] == 2
    assert lit["days_at_level"] == {"1": 3.0, "2": 2.0}
    assert lit["reporter"] == "李**"
    assert lit["status"] == "closed"
    noise = cases[town.case_noise.id]
    assert (noise["level"], noise["days_at_level"], noise["category"]) == (
        1,
        {"1": 1.0},
        "conflict",
    )
    assert record["evaluation"] == {
        "round": 1,
        "satisfied": 1,
        "basically_satisfied": 1,
        "unsatisfied": 1,
        "result": "accepted",
    }
    done, open_ = record["actions"]
    assert (done["unit"], done["status"]) == ("城关物业公司", "done")
    assert done["done_at"] is not None
    assert (open_["assignee"], open_["unit"], open_["status"]) == ("王**", None, "open")


def test_filters_by_category_and_period(town, client):
    base = f"/public/{town.hehe.id}/resolutions.json"
    assert client.get(base + "?category=concern").get_json()["total"] == 1
    assert client.get(base + "?category=urgent").get_json()["total"] == 0
    day = (datetime.now(UTC) - timedelta(days=3)).date()
    assert (
        client.get(
            f"{base}?from={day - timedelta(days=1)}&to={day + timedelta(days=1)}"
        ).get_json()["total"]
        == 1
    )
    assert client.get(f"{base}?from={day + timedelta(days=2)}").get_json()["total"] == 0
    assert client.get(f"{base}?to={day - timedelta(days=2)}").get_json()["total"] == 0
    page = client.get(f"/public/{town.hehe.id}?category=urgent").get_data(as_text=True)
    assert f'data-resolution="{town.resolution.id}"' not in page
    page = client.get(f"/public/{town.hehe.id}?category=concern").get_data(as_text=True)
    assert f'data-resolution="{town.resolution.id}"' in page


def test_bad_filters_are_refused_clearly(town, client):
    for query, field in (
        ("from=yesterday", "from"),
        ("to=2026-13-40", "to"),
        ("from=2026-12-01&to=2026-11-01", "to"),
        ("category=gossip", "category"),
        ("from=0001-01-01", "from"),
    ):
        response = client.get(f"/public/{town.hehe.id}/resolutions.json?{query}")
        assert response.status_code == 422, query
        error = response.get_json()["error"]
        assert error["code"] == "invalid_filter" and error["message"]
        assert field in error["fields"]
        assert client.get(f"/public/{town.hehe.id}/resolutions.csv?{query}").status_code == 422
        page = client.get(f"/public/{town.hehe.id}?{query}&lang=en")
        assert page.status_code == 200
        assert "The filter was not applied" in page.get_data(as_text=True)


def test_csv_has_one_row_per_case_closed(town, client):
    response = client.get(f"/public/{town.xiguan.id}/resolutions.csv")
    assert response.mimetype == "text/csv"
    response = client.get(f"/public/{town.hehe.id}/resolutions.csv")
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert sorted(int(r["case_id"]) for r in rows) == sorted([town.case_lit.id, town.case_noise.id])
    lit = next(r for r in rows if int(r["case_id"]) == town.case_lit.id)
    assert (
        lit["case_level"],
        lit["case_days_level_1"],
        lit["case_days_level_2"],
        lit["case_days_level_3"],
    ) == ("2", "3.0", "2.0", "")
    assert (
        lit["resolution_id"],
        lit["evaluation_result"],
        lit["actions_total"],
        lit["actions_done"],
    ) == (str(town.resolution.id), "accepted", "2", "1")


def test_atom_feed_lists_newly_published_resolutions(town, client):
    response = client.get(f"/public/{town.hehe.id}/resolutions.atom?lang=zh_CN")
    assert response.mimetype == "application/atom+xml"
    feed = ET.fromstring(response.data)  # noqa: S314 (our own output)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") == f"http://consult.test/public/{town.hehe.id}"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 1
    entry = entries[0]
    assert entry.findtext(f"{ATOM}id").endswith(f"#resolution-{town.resolution.id}")
    assert "王**、赵**反映的问题" in entry.findtext(f"{ATOM}title")
    assert entry.findtext(f"{ATOM}published")
    assert {c.get("term") for c in entry.findall(f"{ATOM}category")} == {"concern", "conflict"}
    other = ET.fromstring(  # noqa: S314 (our own output)
        client.get(f"/public/{town.xiguan.id}/resolutions.atom").data
    )
    assert [e.findtext(f"{ATOM}title") for e in other.findall(f"{ATOM}entry")] != []
    assert "西关路灯" in other.findall(f"{ATOM}entry")[0].findtext(f"{ATOM}title")


def test_page_shows_the_records_and_links_the_open_data(town, client):
    page = client.get(f"/public/{town.hehe.id}?lang=en").get_data(as_text=True)
    assert f'id="resolution-{town.resolution.id}"' in page
    assert "城关物业公司" in page
    assert "solved at level 2" in page
    assert 'data-evaluation="accepted"' in page
    assert f"/public/{town.hehe.id}/resolutions.csv" in page
    assert 'type="application/atom+xml"' in page
    assert "西关路灯" not in page


def test_town_index_links_every_community(town, client):
    page = client.get("/public/?lang=en").get_data(as_text=True)
    for community in (town.hehe, town.xiguan):
        assert f'href="/public/{community.id}"' in page
        assert f'href="/board/{community.id}"' in page
    assert page.count("1 published resolution") == 2


def test_board_shows_coming_public_sessions_and_latest_resolutions(town, client):
    response = client.get(f"/board/{town.hehe.id}?lang=en")
    page = response.get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="120">' in page
    assert "<script" not in page
    shown = {int(v) for v in __import__("re").findall(r'data-session="(\d+)"', page)}
    assert town.coming.id in shown and town.weeks[0].id in shown
    assert not shown & {
        town.private_future.id,
        town.private_cancelled.id,
        town.cancelled.id,
        town.weeks[2].id,
        town.published.id,
    }
    assert f'data-resolution="{town.resolution.id}"' in page
    assert "30 places left" in page
    assert "Sign in" not in page
