"""The grid export as offices save it: GB18030 (GBK), UTF-16, UTF-8 without BOM, .xlsx;
numbers a spreadsheet shortened; imports by secretaries and into one community.

Every file is made here from the shared sample, as Excel or WPS would save it.
"""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from consult.cases.importer import ImportRefused, decode, import_export, parse_export
from consult.cases.models import Case
from consult.community.models import Community
from consult.extensions import db
from tests.cases.test_import import TZ, _upload, sample

TEXT = sample().decode("utf-8-sig")


def rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(TEXT, newline="")))


def as_csv(records: list[list[str]]) -> str:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(records)
    return out.getvalue()


def as_xlsx(records: list[list[str]], phone_as_number: bool = False) -> bytes:
    book = Workbook()
    sheet = book.active
    for index, record in enumerate(records):
        values = list(record)
        if index and phone_as_number and values[7].isdigit():
            values[7] = int(values[7])
        sheet.append(values)
    data = io.BytesIO()
    book.save(data)
    return data.getvalue()


def count_cases() -> int:
    return db.session.scalar(select(func.count(Case.id)))


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (sample(), "UTF-8 (BOM)"),
        (TEXT.encode("utf-8"), "UTF-8"),
        (TEXT.encode("gb18030"), "GB18030"),
        (TEXT.encode("gbk"), "GB18030"),
        (TEXT.encode("utf-16"), "UTF-16"),
        (b"\xfe\xff" + TEXT.encode("utf-16-be"), "UTF-16"),
        (as_xlsx(rows()), "XLSX"),
        (as_xlsx(rows(), phone_as_number=True), "XLSX"),
    ],
    ids=["utf-8 bom", "utf-8", "gb18030", "gbk", "utf-16 le", "utf-16 be", "xlsx", "xlsx numbers"],
)
def test_every_way_an_office_saves_the_export_imports_the_same_cases(app, raw, encoding):
    parsed = parse_export(raw, TZ)
    assert parsed.errors == []
    assert parsed.encoding == encoding
    reference = parse_export(sample(), TZ).rows
    assert parsed.rows == reference
    result = import_export(raw, TZ, None)
    assert (len(result.new), result.encoding) == (20, encoding)


def test_short_gbk_files_are_not_mistaken_for_another_encoding(app):
    # Two Chinese characters in GBK are 4 bytes that could pass for other encodings.
    for text in (
        "编号,社区,类别,标题,上报时间\r\n1,和合,民生诉求,电梯,2026-09-01 09:12\r\n",
        "编号,社区,类别,标题,上报时间\r\n2,城北,矛盾纠纷,噪音,2026-09-01 09:12\r\n",
    ):
        assert decode(text.encode("gbk")) == (text, "GB18030")
        assert decode(text.encode("utf-8")) == (text, "UTF-8")


def test_a_phone_number_in_scientific_notation_is_refused_with_how_to_keep_it(app):
    records = rows()
    records[3][7] = "1.39094E+10"
    with pytest.raises(ImportRefused) as refused:
        import_export(as_csv(records).encode("gb18030"), TZ, None)
    (error,) = refused.value.errors
    assert (error.row, error.column) == (3, "联系电话")
    assert "Text" in str(error) and "apostrophe" in str(error)
    assert count_cases() == 0


def test_the_cli_prints_the_count_and_the_encoding_and_takes_a_community(app, runner, tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(TEXT.encode("gb18030"))
    result = runner.invoke(args=["cases", "import", str(path)])
    assert result.exit_code == 0, result.output
    last = result.output.strip().splitlines()[-1]
    assert "20" in last and "GB18030" in last
    # --community: rows without a community go there; rows of another are refused.
    records = [rows()[0]] + [r for r in rows()[1:] if r[1] == "和合社区"]
    for record in records[1:]:
        record[0] += "-B"
        record[1] = ""
    path.write_bytes(as_xlsx(records))
    result = runner.invoke(args=["cases", "import", str(path), "--community", "和合社区"])
    assert result.exit_code == 0, result.output
    assert "6" in result.output and "XLSX" in result.output
    hehe = db.session.scalar(select(Community).where(Community.name == "和合社区"))
    assert db.session.scalar(select(func.count(Case.id)).where(Case.community_id == hehe.id)) == 12
    path.write_bytes(sample())
    result = runner.invoke(args=["cases", "import", str(path), "--community", "城北社区"])
    assert result.exit_code != 0
    assert "社区" in result.output and "Traceback" not in result.output


def test_a_secretary_imports_into_their_own_community_only(client, login_as, factories):
    secretary = factories.make_user("secretary", community="和合社区")
    login_as(secretary)
    html = _upload(client, sample()).get_data(as_text=True)
    assert 'data-column="社区"' in html
    assert count_cases() == 0
    own = [rows()[0]] + [r for r in rows()[1:] if r[1] == "和合社区"]
    html = _upload(client, as_xlsx(own), name="export.xlsx").get_data(as_text=True)
    assert "6 new, 0 already imported (read as XLSX)." in html
    assert count_cases() == 6


def test_the_page_shows_the_encoding_read(client, login_as, factories):
    # The export spans four communities not yet known: only town-level staff (no
    # community of their own) act on them all and may name new ones.
    login_as(factories.make_user("cadre", community=None))
    html = _upload(client, TEXT.encode("utf-16")).get_data(as_text=True)
    assert "20 new, 0 already imported (read as UTF-16)." in html
