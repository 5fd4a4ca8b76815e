"""The case and issue pages: lists with filters and pages, intake, timeline, evaluation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from consult.cases.models import Case, Evaluation, Issue
from consult.cases.operations import comment_case
from consult.extensions import db
from consult.minutes.operations import approve_minutes, publish_minutes, save_minutes
from consult.types import utcnow
from tests.cases.builders import agenda_item, new_case, new_issue, resolve
from tests.conftest import csrf_token_from

#: A session that has started: only those resolve issues and close cases.
PAST = timedelta(hours=-2)


def _ids(html: str, attribute: str = "data-case") -> list[int]:
    return [int(x) for x in re.findall(rf'<tr {attribute}="(\d+)"', html)]


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("cadre", 200), ("secretary", 200), ("unit_rep", 200), ("resident", 403)],
)
def test_who_sees_the_case_list(client, login_as, factories, role, status):
    login_as(factories.make_user(role))
    assert client.get("/cases").status_code == status
    assert client.get("/cases/overdue").status_code == status


def test_the_case_list_asks_anonymous_visitors_to_sign_in(client):
    response = client.get("/cases")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_case_list_filters(client, login_as, factories):
    cadre = factories.make_user("cadre", community=None)  # town-level: every community
    a = new_case(cadre, category="conflict")
    b = new_case(cadre, community="城北社区", source="hotline")
    c = new_case(cadre)
    c.level, c.level_since = 2, utcnow() - timedelta(days=8)
    db.session.commit()
    resolve(
        agenda_item(factories.make_meeting(starts_in=PAST), cadre, new_issue(cadre, [a])),
        cadre,
        [a],
    )
    login_as(cadre)
    hehe = a.community_id

    def listed(query):
        return sorted(_ids(client.get(f"/cases?{query}").get_data(as_text=True)))

    assert listed("") == sorted([a.id, b.id, c.id])
    assert listed(f"community={hehe}") == sorted([a.id, c.id])
    assert listed("status=resolved") == [a.id]
    assert listed("level=2") == [c.id]
    assert listed("category=conflict") == [a.id]
    assert listed("source=hotline") == [b.id]
    assert listed("overdue=1") == [c.id]
    assert listed("overdue=0") == sorted([a.id, b.id])
    # Values the page does not know are ignored rather than refused.
    assert listed("status=nonsense&level=x&category=&page=abc") == sorted([a.id, b.id, c.id])
    html = client.get("/cases?overdue=1").get_data(as_text=True)
    assert 'class="table-danger"' in html


def test_case_list_pages(client, login_as, factories):
    cadre = factories.make_user("cadre")
    made = [new_case(cadre, title=f"案件 {n}") for n in range(30)]
    login_as(cadre)
    first = _ids(client.get("/cases").get_data(as_text=True))
    second_html = client.get("/cases?page=2").get_data(as_text=True)
    second = _ids(second_html)
    assert len(first) == 25 and len(second) == 5
    assert sorted(first + second) == sorted(c.id for c in made)
    assert 'rel="prev"' in second_html
    assert _ids(client.get("/cases?page=9").get_data(as_text=True)) == []


def _fill(cadre, n: int, factories):
    cases = [
        new_case(cadre, title=f"案件 {k}", category=("concern", "conflict")[k % 2])
        for k in range(n)
    ]
    issue = new_issue(cadre, cases[: max(1, n // 3)])
    return cases, issue


@pytest.mark.parametrize("rows", [1, 20])
def test_case_list_query_count_does_not_grow(client, login_as, factories, count_queries, rows):
    cadre = factories.make_user("cadre")
    _fill(cadre, rows, factories)
    login_as(cadre)
    client.get("/cases")
    with count_queries() as counted:
        response = client.get("/cases?category=concern")
    assert response.status_code == 200
    # page of cases (with community and issue), count, communities (the signed-in user is
    # already in the session's identity map in tests)
    assert counted.n == 3, counted.statements


@pytest.mark.parametrize("rows", [1, 20])
def test_issue_list_query_count_does_not_grow(client, login_as, factories, count_queries, rows):
    cadre = factories.make_user("cadre")
    for k in range(rows):
        new_issue(cadre, [new_case(cadre)], title=f"议题 {k}")
    login_as(cadre)
    with count_queries() as counted:
        response = client.get("/issues")
    assert response.status_code == 200
    assert len(_ids(response.get_data(as_text=True), "data-issue")) == rows
    # the caller's memberships, page of issues, count, case counts, communities
    assert counted.n == 5, counted.statements
    assert _memberships_read_once(counted.statements)


@pytest.mark.parametrize("rows", [1, 20])
def test_overdue_page_query_count_does_not_grow(client, login_as, factories, count_queries, rows):
    cadre = factories.make_user("cadre")
    for case in _fill(cadre, rows, factories)[0]:
        case.level_since = utcnow() - timedelta(days=40)
    db.session.commit()
    login_as(cadre)
    with count_queries() as counted:
        html = client.get("/cases/overdue").get_data(as_text=True)
    assert len(_ids(html)) == rows
    # the caller's memberships, overdue cases, communities
    assert counted.n == 4, counted.statements
    assert _memberships_read_once(counted.statements)


@pytest.mark.parametrize("rows", [1, 15])
def test_case_page_query_count_does_not_grow(client, login_as, factories, count_queries, rows):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    for k in range(rows):
        comment_case(case, {"comment": f"第{k}次回访"}, cadre)
    db.session.commit()
    login_as(cadre)
    url = f"/cases/{case.id}"
    with count_queries() as counted:
        html = client.get(url).get_data(as_text=True)
    assert html.count('data-event="comment"') == rows
    # the caller's memberships, case (with community, issue, session, resolution),
    # timeline, resolutions, audit
    assert counted.n == 5, counted.statements
    assert _memberships_read_once(counted.statements)


def _memberships_read_once(statements) -> bool:
    return sum("FROM memberships" in s for s in statements) == 1


# -- intake ---------------------------------------------------------------------------


def _form(client, url):
    return csrf_token_from(client.get(url).get_data(as_text=True))


def test_a_cadre_records_a_case_from_the_form(client, login_as, factories):
    cadre = factories.make_user("cadre")
    community = factories.make_community("Hehe")
    login_as(cadre)
    token = _form(client, "/cases/new")
    response = client.post(
        "/cases/new",
        data={
            "csrf_token": token,
            "title": "小区路灯不亮",
            "description": "东门至7号楼之间三盏路灯损坏",
            "community": community.id,
            "category": "concern",
            "source": "walk_in",
            "reporter": "陈志强",
            "phone": "13993600001",
            "grid": "第三网格",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    case = db.session.scalar(select(Case))
    assert (case.title, case.source, case.category, case.reporter_name) == (
        "小区路灯不亮",
        "walk_in",
        "concern",
        "陈志强",
    )
    assert "小区路灯不亮" in response.get_data(as_text=True)


def test_form_errors_keep_the_input(client, login_as, factories):
    community = factories.make_community("Hehe")
    login_as(factories.make_user("unit_rep"))
    token = _form(client, "/cases/new")
    response = client.post(
        "/cases/new",
        data={
            "csrf_token": token,
            "title": "",
            "description": "描述保留",
            "community": community.id,
            "category": "concern",
            "source": "grid",
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "is-invalid" in html and "描述保留" in html
    response = client.post(
        "/cases/new",
        data={
            "csrf_token": token,
            "title": "标题",
            "community": community.id,
            "category": "nope",
            "source": "grid",
        },
    )
    assert "is-invalid" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Case.id))) == 0


def test_a_secretary_records_a_concern_raised_at_a_session(client, login_as, factories):
    meeting = factories.make_meeting(kind="friday_talk", starts_in=timedelta(hours=-1))
    secretary = factories.make_user("secretary")
    login_as(secretary)
    url = f"/cases/new?session={meeting.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'name="community"' not in page and 'name="source"' not in page
    response = client.post(
        url,
        data={
            "csrf_token": csrf_token_from(page),
            "title": "独居老人家中断水",
            "category": "urgent",
            "reporter": "张奶奶",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    case = db.session.scalar(select(Case))
    assert case.source == "session" and case.meeting_id == meeting.id
    assert case.community_id == meeting.community_id and case.created_by_id == secretary.id


@pytest.mark.parametrize(
    ("role", "general", "at_session"),
    [
        ("admin", 200, 200),
        ("cadre", 200, 200),
        ("unit_rep", 200, 403),
        ("secretary", 403, 200),
        ("resident", 403, 403),
    ],
)
def test_who_may_record_cases(client, login_as, factories, role, general, at_session):
    meeting = factories.make_meeting(kind="friday_talk")
    login_as(factories.make_user(role))
    assert client.get("/cases/new").status_code == general
    assert client.get(f"/cases/new?session={meeting.id}").status_code == at_session


def test_a_private_session_stays_hidden(client, login_as, factories):
    meeting = factories.make_meeting(kind="mediation")
    login_as(factories.make_user("unit_rep"))
    assert client.get(f"/cases/new?session={meeting.id}").status_code == 404


# -- the case page --------------------------------------------------------------------


def test_the_case_page_shows_timeline_resolution_and_audit(client, login_as, factories):
    cadre = factories.make_user("cadre", name="刘书记")
    case = new_case(cadre, reporter="王秀兰")
    meeting = factories.make_meeting(kind="joint_meeting", title="联席会议", starts_in=PAST)
    item = agenda_item(meeting, cadre, new_issue(cadre, [case]), title="楼道治理")
    resolution = resolve(item, cadre, [case])
    login_as(cadre)
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert [m for m in re.findall(r'data-event="(\w+)"', html)] == ["created", "issue", "status"]
    assert "刘书记" in html
    closed_by = re.search(r'id="closed-by">.*?</div>\s*</div>', html, re.S).group(0)
    assert f"Resolution {resolution.id}" in closed_by and "楼道治理" in closed_by
    assert f'data-session="{meeting.id}"' in closed_by and "联席会议" in closed_by
    assert 'data-action="case.create"' in html and 'data-action="case.status"' in html
    assert "王秀兰" in html


def _publish(meeting, cadre):
    save_minutes(meeting, {"version": 0, "notes": {}}, cadre)
    approve_minutes(meeting, cadre)
    publish_minutes(meeting, cadre)
    db.session.commit()


def test_residents_see_only_the_published_form_without_reporter_or_audit(
    client, login_as, factories
):
    cadre = factories.make_user("cadre")
    case = new_case(cadre, reporter="王秀兰", phone="13909361234")
    meeting = factories.make_meeting(starts_in=PAST)
    resolve(agenda_item(meeting, cadre, new_issue(cadre, [case])), cadre, [case])
    login_as(factories.make_user())
    # Before publication a resident who did not report it does not see the case at all.
    assert client.get(f"/cases/{case.id}").status_code == 404
    _publish(meeting, cadre)
    response = client.get(f"/cases/{case.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "王秀兰" not in html and "13909361234" not in html
    assert 'id="audit"' not in html


def test_the_case_page_of_a_missing_case_is_404(client, login_as, factories):
    login_as(factories.make_user("cadre"))
    assert client.get("/cases/42").status_code == 404


def test_escalating_from_the_page(client, login_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    login_as(cadre)
    token = _form(client, f"/cases/{case.id}")
    response = client.post(
        f"/cases/{case.id}/escalate",
        data={"csrf_token": token, "reason": ""},
        follow_redirects=True,
    )
    assert "Give the reason" in response.get_data(as_text=True)
    for _ in range(3):
        client.post(
            f"/cases/{case.id}/escalate", data={"csrf_token": token, "reason": "需上级协调"}
        )
    response = client.post(
        f"/cases/{case.id}/escalate",
        data={"csrf_token": token, "reason": "再次上报"},
        follow_redirects=True,
    )
    db.session.expire_all()
    assert db.session.get(Case, case.id).level == 4
    assert "highest" in response.get_data(as_text=True)


def test_a_secretary_cannot_escalate_from_the_page(client, login_as, factories):
    case = new_case(factories.make_user("cadre"))
    login_as(factories.make_user("secretary"))
    token = _form(client, f"/cases/{case.id}")
    response = client.post(f"/cases/{case.id}/escalate", data={"csrf_token": token, "reason": "x"})
    assert response.status_code == 403


# -- issues ---------------------------------------------------------------------------


def test_a_secretary_groups_cases_into_an_issue(client, login_as, factories):
    cadre = factories.make_user("cadre")
    a, b = new_case(cadre), new_case(cadre, title="电动车充电难")
    # A case of another community, reported by town-level staff.
    other = new_case(factories.make_user("cadre", community=None), community="城北社区")
    login_as(factories.make_user("secretary"))
    url = f"/issues/new?community={a.community_id}"
    page = client.get(url).get_data(as_text=True)
    assert f'value="{a.id}"' in page and f'value="{other.id}"' not in page
    token = csrf_token_from(page)
    response = client.post(
        url,
        data={"csrf_token": token, "title": "楼道与充电安全", "cases": [a.id, b.id]},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    issue = db.session.scalar(select(Issue))
    assert issue.title == "楼道与充电安全"
    assert sorted(_ids(html)) == sorted([a.id, b.id])
    # A case from another community is refused by the form, and nothing is created.
    response = client.post(url, data={"csrf_token": token, "title": "x", "cases": [other.id]})
    assert 'class="text-danger small"' in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Issue.id))) == 1


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("cadre", 200), ("secretary", 200), ("resident", 404), ("unit_rep", 404)],
)
def test_an_unpublished_issue_page_is_read_by_its_communitys_staff(
    client, login_as, factories, role, status
):
    cadre = factories.make_user("cadre")
    issue = new_issue(cadre, [new_case(cadre)])
    login_as(factories.make_user(role))
    listed = client.get("/issues")
    assert listed.status_code == 200
    assert (f'data-issue="{issue.id}"' in listed.get_data(as_text=True)) == (status == 200)
    assert client.get(f"/issues/{issue.id}").status_code == status
    assert client.get("/issues/999").status_code == 404


def test_representatives_evaluate_on_the_issue_page(client, login_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    issue = new_issue(cadre, [case])
    resolve(agenda_item(factories.make_meeting(starts_in=PAST), cadre, issue), cadre, [case])
    rep = factories.make_user(representative=True, name="赵敏")
    login_as(rep)
    page = client.get(f"/issues/{issue.id}").get_data(as_text=True)
    assert 'name="rating"' in page
    token = csrf_token_from(page)
    response = client.post(
        f"/issues/{issue.id}/evaluate",
        data={"csrf_token": token, "rating": "basically_satisfied", "comment": "基本解决"},
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert "赵敏" in html and "基本解决" in html and 'name="rating"' not in html
    assert db.session.scalar(select(Evaluation.rating)) == "basically_satisfied"
    response = client.post(
        f"/issues/{issue.id}/evaluate",
        data={"csrf_token": token, "rating": "unsatisfied"},
        follow_redirects=True,
    )
    assert "already" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count(Evaluation.id))) == 1


def test_a_resident_who_is_no_representative_sees_no_rating_form(client, login_as, factories):
    cadre = factories.make_user("cadre")
    case = new_case(cadre)
    issue = new_issue(cadre, [case])
    meeting = factories.make_meeting(starts_in=PAST)
    resolve(agenda_item(meeting, cadre, issue), cadre, [case])
    _publish(meeting, cadre)  # so that every resident may read its published form
    login_as(factories.make_user())
    response = client.get(f"/issues/{issue.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'name="rating"' not in page
    response = client.post(
        f"/issues/{issue.id}/evaluate",
        data={"csrf_token": csrf_token_from(page), "rating": "satisfied"},
    )
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(Evaluation.id))) == 0
