"""Import of the grid platform's case export (README, "Command line": `cases import`).

The file is CSV in UTF-8 (with or without a byte-order mark), GB18030 (which covers
GBK, the default of Chinese Excel and WPS) or UTF-16 with a byte-order mark, or an
Excel workbook (.xlsx, its first sheet); CSV has CRLF or LF line ends, quoted fields
that may hold commas, quotes and line breaks, and Chinese headers. The encoding is never
guessed: the byte-order marks are looked at, then UTF-8 and GB18030 are tried strictly
in that order, and the one that read the file is reported.
Reading is a pure function that returns the rows and every problem it found; the
import is all-or-nothing: one bad row and nothing is written.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from consult import audit
from consult.cases.labels import as_text, stored_text
from consult.cases.models import Case, CaseEvent
from consult.enums import CaseEventKind, CaseLevel, CaseStatus
from consult.errors import RefusedInput
from consult.extensions import db
from consult.text import has_forbidden, normalise_line_breaks
from consult.types import utcnow

#: Header of each column -> the key it is read into.
COLUMNS = {
    "编号": "reference",
    "社区": "community",
    "网格": "grid",
    "类别": "category",
    "标题": "title",
    "描述": "description",
    "反映人": "reporter",
    "联系电话": "phone",
    "上报时间": "reported_at",
}
REQUIRED = ("编号", "社区", "类别", "标题", "上报时间")
#: The platform's categories; the programme's own codes are accepted too.
CATEGORIES = {
    "民生诉求": "concern",
    "矛盾纠纷": "conflict",
    "急难愁盼": "urgent",
    "concern": "concern",
    "conflict": "conflict",
    "urgent": "urgent",
}
MAX_LENGTHS = {
    "编号": 64,
    "社区": 120,
    "网格": 120,
    "标题": 200,
    "描述": 20_000,
    "反映人": 120,
    "联系电话": 32,
}
TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
MAX_BYTES = 10 * 1024 * 1024


@dataclass
class RowError:
    """One problem: the row (1 = first case after the header; 0 = the file), the column."""

    row: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.row == 0:
            message = as_text(self.message)
            return f"{self.column}: {message}" if self.column else message
        return as_text(
            _l(
                "row %(row)d, %(column)s: %(message)s",
                row=self.row,
                column=self.column,
                message=self.message,
            )
        )


@dataclass
class ParsedExport:
    rows: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: How the file was read: "UTF-8", "UTF-8 (BOM)", "UTF-16", "GB18030" or "XLSX".
    encoding: str | None = None


@dataclass
class ImportResult:
    new: list[Case] = field(default_factory=list)
    already: int = 0
    encoding: str | None = None


class ImportRefused(RefusedInput):
    """The export has problems; nothing was imported. ``errors`` lists them all."""

    def __init__(self, errors: list[RowError]):
        summary = "; ".join(str(e) for e in errors[:20])
        if len(errors) > 20:
            summary += "; …"
        super().__init__(as_text(_l("Nothing imported: %(summary)s", summary=summary)), "file")
        self.errors = errors


#: Excel's scientific notation for a long number it took for a quantity: 1.39094E+10.
SCIENTIFIC = re.compile(r"^[+-]?\d+(?:\.\d+)?[eE][+-]?\d+$")
ZIP_MAGIC = b"PK\x03\x04"


def decode(raw: bytes) -> tuple[str, str] | None:
    """Return the text of a CSV file and the encoding that read it, or None.

    A byte-order mark decides (UTF-8, UTF-16); without one, UTF-8 then GB18030 are tried,
    each strictly: a file is read by the first that accepts every byte.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        candidates = [("utf-8-sig", "UTF-8 (BOM)")]
    elif raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = [("utf-16", "UTF-16")]
    else:
        candidates = [("utf-8", "UTF-8"), ("gb18030", "GB18030")]
    for codec, name in candidates:
        try:
            return raw.decode(codec, errors="strict"), name
        except UnicodeDecodeError:
            continue
    return None


def _cell(value) -> str:
    """Return a spreadsheet cell as the text the CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, time):
        return value.strftime("%H:%M:%S")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_records(raw: bytes) -> list[list[str]] | None:
    """Return the rows of the first sheet of an .xlsx workbook, or None if it is none."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        return None
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            return []
        return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _clean(value: str) -> str:
    # U+2028, U+2029 and U+0085 are line breaks too (consult.text).
    return normalise_line_breaks(value).strip()


def _reported_at(value: str, zone: ZoneInfo) -> datetime | None:
    value = value.strip().replace("/", "-").replace("T", " ")
    for fmt in TIME_FORMATS:
        try:
            local = datetime.strptime(value, fmt)  # noqa: DTZ007 (zone applied below)
        except ValueError:
            continue
        return local.replace(tzinfo=zone).astimezone(UTC)
    return None


def parse_export(raw: bytes, timezone: str, community: str | None = None) -> ParsedExport:
    """Read the grid platform's export; collect every row and every problem.

    ``community``: the community imported into; rows without one (or a file without the
    column) belong to it, rows naming another are refused.
    """
    out = ParsedExport()
    records = _records(raw, out)
    if records is None:
        return out
    index = _column_index(records, community, out.errors)
    if index is None:
        return out
    header_length = len(records[0])
    zone = ZoneInfo(timezone)
    seen: dict[str, int] = {}
    number = 0
    for cells in records[1:]:
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        number += 1
        values = _row_values(number, cells, header_length, index, community, out.errors)
        if values is None:
            continue
        row = _check_row(number, values, zone, out.errors)
        if row is None:
            continue
        if row["reference"] in seen:
            out.errors.append(
                RowError(
                    number,
                    "编号",
                    _l(
                        "%(ref)s appears in row %(other)d too.",
                        ref=row["reference"],
                        other=seen[row["reference"]],
                    ),
                )
            )
            continue
        seen[row["reference"]] = number
        out.rows.append(row)
    if number == 0 and not out.errors:
        out.errors.append(RowError(0, "", _l("The file has no cases.")))
    return out


def _records(raw: bytes, out: ParsedExport) -> list[list[str]] | None:
    """Return the file's rows of cells (setting ``out.encoding``), or None after adding
    the reason it cannot be read to ``out.errors``."""
    if len(raw) > MAX_BYTES:
        out.errors.append(RowError(0, "", _l("The file is larger than 10 MB.")))
        return None
    if raw.startswith(ZIP_MAGIC):
        records = _xlsx_records(raw)
        if records is None:
            out.errors.append(
                RowError(0, "", _l("The file is not an Excel workbook (.xlsx) that can be read."))
            )
            return None
        out.encoding = "XLSX"
        return records
    decoded = decode(raw)
    if decoded is None:
        out.errors.append(
            RowError(
                0,
                "",
                _l(
                    "The file is neither UTF-8, UTF-16 nor GB18030 (GBK) text, nor an .xlsx "
                    "workbook."
                ),
            )
        )
        return None
    text, out.encoding = decoded
    if "\x00" in text:
        out.errors.append(
            RowError(
                0,
                "",
                _l(
                    "The file holds NUL bytes: it may be UTF-16 without a byte-order mark. "
                    "Save it as CSV in UTF-8, or as Unicode text with a byte-order mark."
                ),
            )
        )
        return None
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        out.errors.append(RowError(0, "", _l("The file is not CSV: %(e)s", e=str(exc))))
        return None


def _column_index(
    records: list[list[str]], community: str | None, errors: list[RowError]
) -> dict[str, int] | None:
    """Return where each known column is in the header row, or None after adding what is
    wrong with it (an empty file, missing columns) to ``errors``."""
    if not records or not any(cell.strip() for cell in records[0]):
        errors.append(RowError(0, "", _l("The file is empty.")))
        return None
    header = [h.strip().lstrip("\ufeff") for h in records[0]]
    required = [name for name in REQUIRED if not (community and name == "社区")]
    missing = [name for name in required if name not in header]
    for name in missing:
        errors.append(RowError(0, name, _l("the column is missing.")))
    if missing:
        return None
    return {name: header.index(name) for name in COLUMNS if name in header}


def _row_values(
    number: int,
    cells: list[str],
    header_length: int,
    index: dict[str, int],
    community: str | None,
    errors: list[RowError],
) -> dict | None:
    """Return row ``number``'s values by column, in ``community`` when one is imported
    into; None after adding why the row is refused to ``errors``."""
    if len(cells) > header_length:
        errors.append(
            RowError(
                number,
                "",
                _l(
                    "the row has %(n)d fields, the header %(m)d.",
                    n=len(cells),
                    m=header_length,
                ),
            )
        )
        return None
    values = {name: _clean(cells[i]) if i < len(cells) else "" for name, i in index.items()}
    if community:
        if not values.get("社区"):
            values["社区"] = community
        elif values["社区"] != community:
            errors.append(
                RowError(
                    number,
                    "社区",
                    _l(
                        "%(value)s is not %(name)s, the community being imported into.",
                        value=repr(values["社区"]),
                        name=community,
                    ),
                )
            )
            return None
    return values


def _check_row(number: int, values: dict, zone: ZoneInfo, errors: list[RowError]):
    before = len(errors)
    for name in REQUIRED:
        if not values.get(name):
            errors.append(RowError(number, name, _l("empty.")))
    for name, limit in MAX_LENGTHS.items():
        if len(values.get(name, "")) > limit:
            errors.append(RowError(number, name, _l("longer than %(n)d characters.", n=limit)))
    for name, value in values.items():
        allowed = "\n\t" if name == "描述" else ""
        if has_forbidden(value, allowed):
            errors.append(RowError(number, name, _l("contains a control character.")))
    if SCIENTIFIC.match(values.get("联系电话", "")):
        errors.append(
            RowError(
                number,
                "联系电话",
                _l(
                    "%(value)s is a number that the spreadsheet shortened; its digits are lost. "
                    "Format the column as Text (or start each number with an apostrophe), type the "
                    "numbers again and save the file again.",
                    value=repr(values["联系电话"]),
                ),
            )
        )
    category = CATEGORIES.get(values.get("类别", ""))
    if values.get("类别") and category is None:
        errors.append(
            RowError(
                number,
                "类别",
                _l(
                    "unknown category %(value)s (expected 民生诉求, 矛盾纠纷 or 急难愁盼).",
                    value=repr(values["类别"]),
                ),
            )
        )
    reported_at = None
    if values.get("上报时间"):
        reported_at = _reported_at(values["上报时间"], zone)
        if reported_at is None:
            errors.append(
                RowError(
                    number,
                    "上报时间",
                    _l(
                        "%(value)s is not a time like 2026-09-01 09:12.",
                        value=repr(values["上报时间"]),
                    ),
                )
            )
    if len(errors) > before:
        return None
    row = {key: values.get(name, "") for name, key in COLUMNS.items()}
    row["category"] = category
    row["reported_at"] = reported_at
    row["source"] = "grid"
    return row


def import_export(raw: bytes, timezone: str, user, community: str | None = None) -> ImportResult:
    """Import every new case of the export, or none if any row is bad.

    Cases whose reference (编号) is already known are counted, not imported again.
    ``community``: import into that community only (rows naming another are refused).
    ``user`` None is the command line; a secretary imports into their own community only.
    """
    from consult.cases.operations import community_by_name
    from consult.permissions import can

    if community is not None:
        community = community.strip()
        try:
            target = community_by_name(community, user)
        except RefusedInput as exc:
            raise ImportRefused([RowError(0, "社区", exc.message)]) from None
        if user is not None and not can(user, "case.import", target):
            raise ImportRefused(
                [RowError(0, "社区", _l("You may import cases only into your own community."))]
            )
    parsed = parse_export(raw, timezone, community)
    if parsed.errors:
        raise ImportRefused(parsed.errors)
    references = [row["reference"] for row in parsed.rows]
    known: set[str] = set()
    for start in range(0, len(references), 500):
        chunk = references[start : start + 500]
        known.update(db.session.scalars(select(Case.reference).where(Case.reference.in_(chunk))))
    result = ImportResult(already=len(known), encoding=parsed.encoding)
    communities: dict[str, int] = {}
    now = utcnow()
    for number, row in enumerate(parsed.rows, start=1):
        if row["reference"] in known:
            continue
        name = row["community"]
        if name not in communities:
            try:
                found = community_by_name(name, user)
            except RefusedInput as exc:
                raise ImportRefused([RowError(number, "社区", exc.message)]) from None
            if user is not None and not can(user, "case.import", found):
                raise ImportRefused(
                    [
                        RowError(
                            number, "社区", _l("You may import cases only into your own community.")
                        )
                    ]
                )
            communities[name] = found.id
        case = Case(
            reference=row["reference"],
            community_id=communities[name],
            grid=row["grid"] or None,
            category=row["category"],
            source="grid",
            title=row["title"],
            description=row["description"],
            reporter_name=row["reporter"] or None,
            reporter_phone=row["phone"] or None,
            reported_at=row["reported_at"],
            level=CaseLevel.GRID_MEMBER,
            # The grid began handling it when it was reported on the platform.
            level_since=min(row["reported_at"], now),
            status=CaseStatus.OPEN,
            created_by_id=getattr(user, "id", None),
            created_at=now,
        )
        db.session.add(case)
        result.new.append(case)
    db.session.flush()
    reason = stored_text(_l("Imported from the grid platform's export."))
    for case in result.new:
        db.session.add(
            CaseEvent(
                case_id=case.id,
                kind=CaseEventKind.CREATED,
                to_value=CaseStatus.OPEN,
                actor_id=getattr(user, "id", None),
                reason=reason,
                at=now,
            )
        )
        audit.record("case.import", case, user, reference=case.reference)
    db.session.flush()
    return result
