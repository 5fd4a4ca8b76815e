"""Import of the grid platform's export: the real sample file, broken copies, CLI and page."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from consult.audit.models import AuditEntry
from consult.cases.importer import ImportRefused, import_export, parse_export
from consult.cases.models import Case, CaseEvent
from consult.community.models import Community
from consult.extensions import db
from tests.conftest import csrf_token_from

HERE = Path(__file__).parent
#: A real export of the grid platform.
SAMPLE = HERE / "data" / "grid-cases.csv"
TZ = "Asia/Shanghai"


def sample() -> bytes:
    return SAMPLE.read_bytes()


def count_cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


def test_the_sample_is_what_the_platform_writes():
    raw = sample()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b'"' in raw and "补充".encode() in raw


def test_importing_the_sample_creates_its_20_cases(app):
    result = import_export(sample(), TZ, None)
    db.session.commit()
    assert (len(result.new), result.already) == (20, 0)
    assert count_cases() == 20
    first = db.session.scalar(select(Case).where(Case.reference == "GT-2026-0001"))
    assert first.title == "楼道堆放杂物影响通行"
    assert first.category == "concern" and first.source == "grid" and first.level == 1
    assert first.community.name == "和合社区" and first.grid == "第一网格"
    assert first.reporter_name == "王秀兰" and first.reporter_phone == "13909361234"
    # 2026-09-01 09:12 in Shanghai (UTC+8) is 01:12 UTC.
    assert first.reported_at == datetime(2026, 9, 1, 1, 12, tzinfo=UTC)
    # The level's time limit runs from the report (or from now, for a report dated ahead).
    assert first.level_since == min(first.reported_at, first.created_at)
    second = db.session.scalar(select(Case).where(Case.reference == "GT-2026-0002"))
    assert second.category == "conflict"
    assert second.description == (
        "5号楼302住户反映楼上402卫生间漏水，双方就维修费用协商未果。\n"
        '补充：已多次沟通，对方表示"等物业来看"。'
    )
    quoted = db.session.scalar(select(Case).where(Case.reference == "GT-2026-0016"))
    assert quoted.title == '"快递柜"占用消防通道'
    urgent = db.session.scalar(select(Case).where(Case.reference == "GT-2026-0020"))
    assert urgent.category == "urgent"
    assert urgent.reported_at == datetime(2026, 9, 16, 22, 55, tzinfo=UTC)
    assert {c.name for c in db.session.scalars(select(Community))} == {
        "和合社区",
        "城北社区",
        "南街社区",
        "西关社区",
    }
    categories = db.session.execute(
        select(Case.category, func.count(Case.id)).group_by(Case.category)
    ).all()
    assert dict(categories) == {"concern": 10, "conflict": 6, "urgent": 4}
    assert db.session.scalar(select(func.count(CaseEvent.id))) == 20
    assert (
        db.session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "case.import")
        )
        == 20
    )


def test_crlf_line_ends_are_read_the_same(app):
    raw = sample().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    assert raw.count(b"\r\n") == sample().count(b"\n")
    result = import_export(raw, TZ, None)
    db.session.commit()
    assert len(result.new) == 20
    second = db.session.scalar(select(Case).where(Case.reference == "GT-2026-0002"))
    # The line break inside the quoted field is kept (as one newline).
    assert second.description.count("\n") == 1 and "\r" not in second.description


def test_a_file_without_the_byte_order_mark_is_read_too(app):
    assert len(import_export(sample()[3:], TZ, None).new) == 20


def test_reimporting_the_same_file_adds_nothing(app):
    import_export(sample(), TZ, None)
    db.session.commit()
    result = import_export(sample(), TZ, None)
    db.session.commit()
    assert (len(result.new), result.already) == (0, 20)
    assert count_cases() == 20


def test_a_longer_export_adds_only_the_new_rows(app):
    import_export(sample(), TZ, None)
    db.session.commit()
    extra = (
        "GT-2026-0021,和合社区,第一网格,民生诉求,新增路灯,小区东侧缺少路灯,何平,"
        "13900000000,2026-09-18 08:00\n"
    )
    result = import_export(sample() + extra.encode(), TZ, None)
    db.session.commit()
    assert (len(result.new), result.already) == (1, 20)


#: The start of the third case row, and the same with a category the platform never uses.
ROW_3 = "GT-2026-0003,城北社区,第一网格,急难愁盼"
ROW_3_BAD = "GT-2026-0003,城北社区,第一网格,投诉"


def _broken(old: str, new: str) -> bytes:
    raw = sample()
    assert old.encode() in raw
    return raw.replace(old.encode(), new.encode(), 1)


@pytest.mark.parametrize(
    ("raw", "row", "column", "text"),
    [
        (lambda: _broken(ROW_3, ROW_3_BAD), 3, "类别", "投诉"),
        (
            lambda: _broken(
                "GT-2026-0005,南街社区,第二网格,矛盾纠纷,广场舞噪音扰民",
                "GT-2026-0005,南街社区,第二网格,矛盾纠纷,",
            ),
            5,
            "标题",
            "empty",
        ),
        (lambda: _broken("2026-09-04 10:00", "2026-13-04 10:00"), 6, "上报时间", "2026-13-04"),
        (lambda: _broken("2026-09-04 10:00", "昨天"), 6, "上报时间", "昨天"),
        (lambda: _broken("GT-2026-0007,", "GT-2026-0006,"), 7, "编号", "GT-2026-0006"),
        (lambda: _broken("GT-2026-0008,西关社区", ",西关社区"), 8, "编号", "empty"),
        (lambda: _broken("GT-2026-0009,西关社区", "GT-2026-0009,"), 9, "社区", "empty"),
    ],
)
def test_a_bad_row_imports_nothing_and_is_named(app, raw, row, column, text):
    with pytest.raises(ImportRefused) as refused:
        import_export(raw(), TZ, None)
    db.session.rollback()
    errors = refused.value.errors
    assert [(e.row, e.column) for e in errors] == [(row, column)]
    message = str(refused.value.message)
    assert f"row {row}" in message and column in message and text in message
    assert count_cases() == 0
    assert db.session.scalar(select(func.count(Community.id))) == 0


def test_every_bad_row_is_reported_at_once(app):
    raw = _broken(ROW_3, ROW_3_BAD)
    raw = raw.replace(b"2026-09-17 06:55", b"17/09/2026")
    parsed = parse_export(raw, TZ)
    assert [(e.row, e.column) for e in parsed.errors] == [(3, "类别"), (20, "上报时间")]


def test_a_missing_column_is_named(app):
    raw = sample().replace("类别".encode(), "分类".encode(), 1)
    parsed = parse_export(raw, TZ)
    assert [(e.row, e.column) for e in parsed.errors] == [(0, "类别")]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"", "empty"),
        ("编号,标题\n".encode(), "missing"),
        ("编号,社区,类别,标题,上报时间\n".encode(), "no cases"),
        (
            "编号,社区,类别,标题,上报时间\n1,和合社区,民生诉求,x,2026-09-01 09:12\n".encode(
                "utf-16-le"
            ),
            "NUL",
        ),
        (b"\xff\xfeA\x00\x00\xd8", "neither"),
        (
            "编号,社区,类别,标题,上报时间\n1,和合社区,民生诉求,x,2026-09-01 09:12,extra\n".encode(),
            "fields",
        ),
    ],
)
def test_files_that_are_not_exports(app, raw, words):
    parsed = parse_export(raw, TZ)
    assert parsed.errors and words in " ".join(str(e) for e in parsed.errors)


def test_only_the_columns_it_needs_are_required(app):
    raw = "编号,社区,类别,标题,上报时间\r\nX-1,和合社区,矛盾纠纷,邻里纠纷,2026/09/01 09:12:30\r\n"
    result = import_export(raw.encode(), TZ, None)
    case = result.new[0]
    assert case.reported_at == datetime(2026, 9, 1, 1, 12, 30, tzinfo=UTC)
    assert case.description == "" and case.reporter_name is None


def test_the_time_zone_is_the_installations(app):
    raw = "编号,社区,类别,标题,上报时间\nX-1,和合社区,矛盾纠纷,邻里纠纷,2026-09-01 09:12\n"
    case = import_export(raw.encode(), "Europe/Berlin", None).new[0]
    assert case.reported_at == datetime(2026, 9, 1, 7, 12, tzinfo=UTC)


# -- command line ---------------------------------------------------------------------


def test_cli_imports_the_sample(runner, app):
    app.config["DEFAULT_LANGUAGE"] = "zh_CN"  # the installation's default (tests set en)
    result = runner.invoke(args=["cases", "import", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert last == "20 new, 0 already imported (read as UTF-8 (BOM))."
    result = runner.invoke(args=["cases", "import", str(SAMPLE)])
    last = result.output.strip().splitlines()[-1]
    assert last == "0 new, 20 already imported (read as UTF-8 (BOM))."
    assert count_cases() == 20
    # What the command stores on the timelines is in the town's language
    # (DEFAULT_LANGUAGE), though it prints to the operator in English.
    reasons = set(db.session.scalars(select(CaseEvent.reason)))
    assert reasons == {"从网格平台导出文件导入。"}


def test_cli_refuses_a_bad_file_in_one_line(runner, app, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_broken(ROW_3, ROW_3_BAD))
    result = runner.invoke(args=["cases", "import", str(bad)])
    assert result.exit_code != 0
    assert "row 3" in result.output and "类别" in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert count_cases() == 0


def test_cli_missing_file(runner, app, tmp_path):
    result = runner.invoke(args=["cases", "import", str(tmp_path / "nope.csv")])
    assert result.exit_code != 0 and "Cannot read" in result.output


# -- the upload page ------------------------------------------------------------------


def _upload(client, raw: bytes, name="grid-cases.csv"):
    token = csrf_token_from(client.get("/cases/import").get_data(as_text=True))
    return client.post(
        "/cases/import",
        data={"csrf_token": token, "file": (io.BytesIO(raw), name)},
        content_type="multipart/form-data",
        follow_redirects=True,
    )


def test_a_cadre_uploads_the_export(client, login_as, factories):
    # The export spans four communities not yet known: only town-level staff (no
    # community of their own) act on them all and may name new ones.
    login_as(factories.make_user("cadre", community=None))
    html = _upload(client, sample()).get_data(as_text=True)
    assert "20 new, 0 already imported (read as UTF-8 (BOM))." in html
    assert count_cases() == 20
    html = _upload(client, sample()).get_data(as_text=True)
    assert "0 new, 20 already imported (read as UTF-8 (BOM))." in html


def test_a_bad_upload_shows_the_report_and_imports_nothing(client, login_as, factories):
    login_as(factories.make_user("admin"))
    raw = _broken(ROW_3, ROW_3_BAD)
    response = _upload(client, raw)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-row="3" data-column="类别"' in html and "投诉" in html
    assert count_cases() == 0


@pytest.mark.parametrize(
    ("role", "status"), [("secretary", 200), ("resident", 403), ("unit_rep", 403), ("cadre", 200)]
)
def test_who_may_see_the_upload_page(client, login_as, factories, role, status):
    login_as(factories.make_user(role))
    assert client.get("/cases/import").status_code == status


def test_the_upload_page_needs_a_file(client, login_as, factories):
    login_as(factories.make_user("cadre"))
    token = csrf_token_from(client.get("/cases/import").get_data(as_text=True))
    response = client.post("/cases/import", data={"csrf_token": token})
    assert response.status_code == 200 and "is-invalid" in response.get_data(as_text=True)
    assert count_cases() == 0


def test_staff_import_only_into_their_own_communities(app, factories):
    """The sample's rows are of 和合社区 (and its neighbours): a cadre of 西关 imports none."""
    for name in {row["community"] for row in parse_export(sample(), TZ).rows}:
        factories.make_community(name)
    outsider = factories.make_user("cadre", community="西关社区")
    with pytest.raises(ImportRefused) as refused:
        import_export(sample(), TZ, outsider)
    db.session.rollback()
    assert refused.value.errors[0].row == 1
    assert count_cases() == 0
    town = factories.make_user("cadre", community=None)
    assert len(import_export(sample(), TZ, town).new) == 20
