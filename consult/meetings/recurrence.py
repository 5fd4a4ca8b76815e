"""Recurrence rules: check, normalise and expand RRULEs in a session's own time zone.

dateutil does the expanding. A rule is expanded on naive wall-clock times of the
session's zone and each occurrence is then localised, so that a 15:00 session stays at
15:00 local time across a daylight-saving change while its UTC instant moves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import format_date
from dateutil.rrule import rrule, rrulestr
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

#: The rule parts sessions may use; the time of day comes from the session's start.
ALLOWED_PARTS = (
    "FREQ",
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)
FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY", "YEARLY")
#: How far the first occurrence is looked for: a rule with none by then has none.
FIRST_SEARCH = timedelta(days=366 * 30)
MAX_COUNT = 10_000
MAX_INTERVAL = 1_000
#: Sessions are scheduled within these years (keeps all date arithmetic in range).
YEARS = (1970, 2199)
UTC_FORMAT = "%Y%m%dT%H%M%SZ"
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = (
    _l("Monday"),
    _l("Tuesday"),
    _l("Wednesday"),
    _l("Thursday"),
    _l("Friday"),
    _l("Saturday"),
    _l("Sunday"),
)
#: BYDAY positions offered for monthly series: the first to fourth, or the last, weekday.
ORDINALS = (
    ("1", _l("first")),
    ("2", _l("second")),
    ("3", _l("third")),
    ("4", _l("fourth")),
    ("-1", _l("last")),
)


class RuleError(ValueError):
    """A recurrence rule or time zone that cannot be used, with a message for people."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    """Return the IANA zone names this system knows."""
    return frozenset(available_timezones())


def zone(name: str | None) -> ZoneInfo:
    """Return the zone called ``name``, or raise RuleError."""
    if not isinstance(name, str) or name not in known_zones():
        raise RuleError(_l("Unknown time zone: %(name)s.", name=str(name)[:64]))
    return ZoneInfo(name)


def wall_clock(instant: datetime, tz: ZoneInfo) -> datetime:
    """Return the naive local wall-clock time of an aware ``instant`` in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def localise(naive: datetime, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of a wall-clock time in ``tz``.

    A time skipped by a daylight-saving change is read with the offset before the
    change, as RFC 5545 says.
    """
    return naive.replace(tzinfo=tz).astimezone(UTC)


def wall_clock_exists(naive: datetime, tz: ZoneInfo) -> bool:
    """Return whether the wall-clock time ``naive`` happens in ``tz`` (not in a DST gap)."""
    return wall_clock(localise(naive, tz), tz) == naive


def unclear_wall_clock(naive: datetime, tz: ZoneInfo) -> str | None:
    """Return "gap" when the wall-clock time ``naive`` does not happen in ``tz`` (the
    clocks jump over it), "overlap" when it happens twice (the clocks go back over it),
    else None."""
    if not wall_clock_exists(naive, tz):
        return "gap"
    if naive.replace(tzinfo=tz, fold=0).utcoffset() != naive.replace(tzinfo=tz, fold=1).utcoffset():
        return "overlap"
    return None


#: How far ahead a new series' times are checked against daylight-saving changes.
DST_CHECK = timedelta(days=731)


def first_unclear(value: str, dtstart: datetime, tz_name: str) -> tuple[datetime, str] | None:
    """Return the first wall-clock start of the rule (within two years) that does not
    exist or happens twice in the zone, with "gap" or "overlap"; None when there is none."""
    tz = zone(tz_name)
    local_start = wall_clock(dtstart, tz)
    rule = build(value, local_start, tz, bound=local_start + DST_CHECK)
    for naive in rule:
        problem = unclear_wall_clock(naive, tz)
        if problem:
            return naive, problem
    return None


def in_range(value: datetime) -> bool:
    """Return whether a datetime lies in the years sessions may be scheduled in."""
    return YEARS[0] <= value.year <= YEARS[1]


def _parse_until(raw: str, tz: ZoneInfo) -> datetime:
    """Read an UNTIL value (date, local or UTC date-time) as a UTC instant."""
    try:
        if len(raw) == 8:
            day = datetime.strptime(raw, "%Y%m%d")
            # A date means the whole of that day in the session's zone.
            value = localise(day.replace(hour=23, minute=59, second=59), tz)
        elif raw.endswith("Z"):
            value = datetime.strptime(raw, UTC_FORMAT).replace(tzinfo=UTC)
        else:
            value = localise(datetime.strptime(raw, "%Y%m%dT%H%M%S"), tz)
    except ValueError:
        raise RuleError(_l("UNTIL is not a date or date-time: %(value)s.", value=raw)) from None
    if not in_range(value):
        raise RuleError(_l("UNTIL is out of range."))
    return value


def _parts(value: str) -> list[tuple[str, str]]:
    """Split an RRULE value into (NAME, VALUE) pairs, refusing what is not one."""
    text = value.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    if not text or any(c in text for c in "\r\n") or not text.isascii():
        raise RuleError(_l("The recurrence rule does not parse."))
    pairs = []
    for piece in text.strip().strip(";").split(";"):
        name, sep, val = piece.partition("=")
        name, val = name.strip().upper(), val.strip().upper()
        if not sep or not name or not val:
            raise RuleError(_l("The recurrence rule does not parse."))
        pairs.append((name, val))
    return pairs


def _positive(name: str, raw: str, highest: int) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= highest:
        raise RuleError(
            _l("%(part)s must be a whole number from 1 to %(n)d.", part=name, n=highest)
        )
    return int(raw)


def normalise(value: str, tz_name: str) -> str:
    """Check an RRULE value and return it normalised (FREQ first, UNTIL in UTC).

    Raises RuleError when it does not parse, uses an unsupported part, or has both
    COUNT and UNTIL. Whether it yields any occurrence is checked by ``first_occurrence``.
    """
    tz = zone(tz_name)
    if not isinstance(value, str):
        raise RuleError(_l("The recurrence rule does not parse."))
    parts = dict()
    for name, val in _parts(value):
        if name in parts:
            raise RuleError(_l("%(part)s appears twice in the rule.", part=name))
        if name not in ALLOWED_PARTS:
            raise RuleError(_l("The rule part %(part)s is not supported.", part=name[:20]))
        parts[name] = val
    if "FREQ" not in parts:
        raise RuleError(_l("The recurrence rule needs a FREQ."))
    if parts["FREQ"] not in FREQUENCIES:
        raise RuleError(_l("The frequency must be DAILY, WEEKLY, MONTHLY or YEARLY."))
    if "COUNT" in parts and "UNTIL" in parts:
        raise RuleError(_l("A rule has either COUNT or UNTIL, not both."))
    if "COUNT" in parts:
        parts["COUNT"] = str(_positive("COUNT", parts["COUNT"], MAX_COUNT))
    if "INTERVAL" in parts:
        parts["INTERVAL"] = str(_positive("INTERVAL", parts["INTERVAL"], MAX_INTERVAL))
    if "UNTIL" in parts:
        parts["UNTIL"] = _parse_until(parts["UNTIL"], tz).strftime(UTC_FORMAT)
    _check_frequency_table(parts)
    ordered = ["FREQ"] + [name for name in parts if name != "FREQ"]
    normalised = ";".join(f"{name}={parts[name]}" for name in ordered)
    # Let dateutil judge the rest (weekday codes, ranges) on a sample start.
    build(normalised, datetime(2026, 1, 1, 12, 0), tz)
    return normalised


#: RFC 5545 (3.3.10): the parts each frequency may use (BYSETPOS: kept to MONTHLY and YEARLY).
NOT_WITH = {
    "BYMONTHDAY": ("WEEKLY",),
    "BYYEARDAY": ("DAILY", "WEEKLY", "MONTHLY"),
    "BYWEEKNO": ("DAILY", "WEEKLY", "MONTHLY"),
    "BYSETPOS": ("DAILY", "WEEKLY"),
}


def _check_frequency_table(parts: dict[str, str]) -> None:
    freq = parts["FREQ"]
    for name, frequencies in NOT_WITH.items():
        if name in parts and freq in frequencies:
            raise RuleError(_l("%(part)s cannot be used with FREQ=%(freq)s.", part=name, freq=freq))
    if freq in ("DAILY", "WEEKLY") and any(
        day.strip() not in WEEKDAYS for day in parts.get("BYDAY", "").split(",") if day
    ):
        raise RuleError(_l("A numbered weekday (such as 2TU) needs FREQ=MONTHLY or YEARLY."))


def _exists(value: str, start: datetime) -> bool:
    """Return whether the rule (COUNT and UNTIL aside) has any occurrence.

    dateutil looks for a match up to year 9999, which takes seconds when there is none.
    The calendar repeats every 400 years, so the same rule started a multiple of 400
    years later yields the same dates shifted, and ends its search within 400 years.
    """
    parts = [p for p in value.split(";") if not p.startswith(("COUNT=", "UNTIL="))]
    shifted = start.replace(year=start.year + (9599 - start.year) // 400 * 400)
    return next(iter(rrulestr(";".join(parts), dtstart=shifted)), None) is not None


def build(value: str, start: datetime, tz: ZoneInfo, bound: datetime | None = None) -> rrule:
    """Return the dateutil rule for ``value`` starting at the wall-clock time ``start``.

    UNTIL (stored in UTC) is turned into wall-clock time, since the rule runs on naive
    local times. ``bound`` (wall-clock) replaces COUNT and UNTIL when earlier, to stop a
    rule that would search for centuries.
    """
    parts = dict(piece.split("=", 1) for piece in value.split(";"))
    if "UNTIL" in parts:
        until = datetime.strptime(parts["UNTIL"], UTC_FORMAT).replace(tzinfo=UTC)
        parts["UNTIL"] = wall_clock(until, tz).strftime("%Y%m%dT%H%M%S")
    if bound is not None:
        parts.pop("COUNT", None)
        current = parts.get("UNTIL")
        if current is None or datetime.strptime(current, "%Y%m%dT%H%M%S") > bound:
            parts["UNTIL"] = bound.strftime("%Y%m%dT%H%M%S")
    text = ";".join(f"{k}={v}" for k, v in parts.items())
    try:
        return rrulestr(text, dtstart=start)
    except (ValueError, TypeError, IndexError, KeyError, OverflowError):
        raise RuleError(_l("The recurrence rule does not parse.")) from None


def first_occurrence(value: str, start: datetime, tz_name: str) -> datetime:
    """Return the UTC start of the rule's first occurrence at or after the aware ``start``.

    Raises RuleError when the rule yields no occurrence.
    """
    tz = zone(tz_name)
    local = wall_clock(start, tz)
    rule = build(value, local, tz, bound=local + FIRST_SEARCH)
    try:
        first = next(iter(rule), None) if _exists(value, local) else None
    except (ValueError, TypeError, IndexError, KeyError, OverflowError):
        raise RuleError(_l("The recurrence rule does not parse.")) from None
    if first is None:
        raise RuleError(_l("The recurrence rule yields no occurrence."))
    return localise(first, tz)


def occurrences(
    value: str, dtstart: datetime, tz_name: str, after: datetime | None, until: datetime
) -> list[datetime]:
    """Return the UTC starts of the rule's occurrences in (``after``, ``until``].

    ``dtstart`` is the series' first occurrence (UTC); ``after`` None means from the
    first occurrence on.
    """
    tz = zone(tz_name)
    local_start = wall_clock(dtstart, tz)
    # Wall-clock bounds a day wider than needed, then the exact cut in UTC.
    upper = wall_clock(min(until, datetime(YEARS[1], 12, 31, tzinfo=UTC)), tz)
    rule = build(value, local_start, tz)
    lower = wall_clock(after, tz) - timedelta(days=1) if after is not None else local_start
    found = []
    for naive in rule.xafter(lower, inc=True):
        if naive > upper + timedelta(days=1):
            break
        instant = localise(naive, tz)
        if (after is None or instant > after) and instant <= until:
            found.append(instant)
    return found


def ended(value: str, last: datetime) -> str:
    """Return the normalised rule ``value`` ending at the UTC instant ``last`` (UNTIL,
    inclusive; COUNT and any earlier bound are replaced)."""
    parts = [p for p in value.split(";") if not p.startswith(("COUNT=", "UNTIL="))]
    parts.append(f"UNTIL={last.astimezone(UTC).strftime(UTC_FORMAT)}")
    return ";".join(parts)


def ends(value: str) -> dict:
    """Return the rule's COUNT and UNTIL (UTC), for describing it."""
    parts = dict(piece.split("=", 1) for piece in value.split(";"))
    until = parts.get("UNTIL")
    return {
        "count": int(parts["COUNT"]) if "COUNT" in parts else None,
        "until": datetime.strptime(until, UTC_FORMAT).replace(tzinfo=UTC) if until else None,
    }


def describe(value: str, dtstart: datetime, tz_name: str) -> str:
    """Say in words how a series repeats (the common patterns; the RRULE value otherwise)."""
    parts = dict(piece.split("=", 1) for piece in value.split(";"))
    interval = int(parts.get("INTERVAL", "1"))
    names = {code: str(name) for code, name in zip(WEEKDAYS, WEEKDAY_NAMES, strict=True)}
    ordinals = {nth: str(name) for nth, name in ORDINALS} | {"+1": str(ORDINALS[0][1])}
    byday = parts.get("BYDAY", "")
    plain = not set(parts) - {"FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL", "WKST"}
    text = None
    if parts["FREQ"] == "WEEKLY" and plain:
        codes = (
            byday.split(",") if byday else [WEEKDAYS[dtstart.astimezone(zone(tz_name)).weekday()]]
        )
        days = ", ".join(names.get(code, code) for code in codes)
        text = (
            _("Every week on %(days)s", days=days)
            if interval == 1
            else _("Every %(n)d weeks on %(days)s", n=interval, days=days)
        )
    elif parts["FREQ"] == "MONTHLY" and plain and byday and "," not in byday:
        nth, code = byday[:-2], byday[-2:]
        if nth in ordinals and code in names:
            text = (
                _("The %(nth)s %(day)s of each month", nth=ordinals[nth], day=names[code])
                if interval == 1
                else _(
                    "The %(nth)s %(day)s of every %(n)d months",
                    nth=ordinals[nth],
                    day=names[code],
                    n=interval,
                )
            )
    if text is None:
        text = _("Repeats by the rule %(rule)s", rule=value)
    limits = ends(value)
    if limits["count"]:
        text += _(", %(n)d times", n=limits["count"])
    elif limits["until"]:
        last = limits["until"].astimezone(zone(tz_name))
        text += _(", until %(day)s", day=format_date(last, "medium", locale=get_locale()))
    return text
