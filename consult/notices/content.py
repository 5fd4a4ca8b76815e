"""What a notice says, in a channel's language: a title, Markdown lines and a link.

Pure functions of the objects they describe; the robots' payloads are built from the
result at delivery time (consult.notices.transport).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from consult.cases.labels import case_label as label
from consult.mail.compose import when
from consult.meetings.models import Meeting, Series
from consult.meetings.recurrence import describe


@dataclass
class Notice:
    """A notice as stored in the outbox (as JSON) and posted to a channel."""

    #: session_created, series_created, session_changed, session_cancelled,
    #: series_cancelled, minutes_published, reminder
    event: str
    title: str
    #: Markdown lines, each rendered on its own line by the robots.
    lines: list[str] = field(default_factory=list)
    #: The absolute link to the session (or its minutes).
    url: str = ""
    session: int | None = None
    community: str | None = None
    #: Plain text (SMS, and robots' text messages).
    text: str = ""

    def markdown(self, separator: str = "\n") -> str:
        return separator.join(self.lines)

    def as_dict(self) -> dict:
        return asdict(self)


def base_url() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


def session_link(meeting_id: int) -> str:
    return f"{base_url()}/sessions/{meeting_id}"


def minutes_link(meeting_id: int) -> str:
    return f"{base_url()}/sessions/{meeting_id}/minutes"


#: Characters the robots would read as Markdown or HTML, as their full-width look-alikes
#: (the robots do not all honour backslash escapes).
_MARKDOWN_SAFE = str.maketrans(
    {
        "*": "＊",
        "_": "＿",
        "[": "［",
        "]": "］",
        "`": "｀",
        "<": "‹",
        ">": "›",
        "#": "＃",
        "~": "～",
    }
)


def _md(text: str | None) -> str:
    """Return a name or title as text the robots show as it is, on one line."""
    return " ".join(str(text or "").split()).translate(_MARKDOWN_SAFE)


def _plain(lines: list[str]) -> str:
    out = []
    for line in lines:
        for mark in ("**", "### ", "> "):
            line = line.replace(mark, "")
        out.append(line)
    return "\n".join(out)


def _session_lines(meeting: Meeting, language: str) -> list[str]:
    lines = [
        _("**Kind**: %(kind)s", kind=label(meeting.kind, "kind")),
        _(
            "**Time**: %(when)s",
            when=when(meeting.starts_at, meeting.ends_at, meeting.timezone, language),
        ),
    ]
    if meeting.venue is not None:
        lines.append(_("**Place**: %(venue)s", venue=_md(meeting.venue.name)))
    lines.append(_("**Community**: %(name)s", name=_md(meeting.community.name)))
    return lines


def _about(
    meeting: Meeting, event: str, title: str, lines: list[str], link_text: str, url: str = ""
) -> Notice:
    """Return the notice of ``event`` about ``meeting``: its lines, then a link to the
    session (or ``url``); and the same as plain text."""
    url = url or session_link(meeting.id)
    text = "\n".join([title, _plain(lines), url])
    lines = [*lines, f"[{link_text}]({url})"]
    return Notice(event, title, lines, url, meeting.id, meeting.community.name, text)


def session_created(meeting: Meeting, language: str) -> Notice:
    with force_locale(language):
        lines = _session_lines(meeting, language)
        if meeting.capacity is not None:
            lines.append(_("**Places**: %(n)d", n=meeting.capacity))
        return _about(
            meeting,
            "session_created",
            _("New session: %(title)s", title=_md(meeting.title)),
            lines,
            _("Details and sign-up"),
        )


def series_created(series: Series, first: Meeting, language: str) -> Notice:
    with force_locale(language):
        lines = _session_lines(first, language)
        lines[1] = _(
            "**First session**: %(when)s",
            when=when(first.starts_at, first.ends_at, first.timezone, language),
        )
        lines.insert(
            2,
            _(
                "**Repeats**: %(rule)s",
                rule=describe(series.rrule, series.dtstart, series.timezone),
            ),
        )
        return _about(
            first,
            "series_created",
            _("New series: %(title)s", title=_md(series.title)),
            lines,
            _("Details and sign-up"),
        )


def session_changed(
    meeting: Meeting, language: str, old_starts, old_ends, old_venue: str | None
) -> Notice:
    with force_locale(language):
        lines = _session_lines(meeting, language)
        if (old_starts, old_ends) != (meeting.starts_at, meeting.ends_at):
            lines.insert(
                2,
                _(
                    "**Before**: %(when)s",
                    when=when(old_starts, old_ends, meeting.timezone, language),
                ),
            )
        new_venue = meeting.venue.name if meeting.venue is not None else None
        if old_venue != new_venue:
            lines.insert(
                len(lines) - 1,
                _("**Place before**: %(venue)s", venue=_md(old_venue) if old_venue else _("none")),
            )
        return _about(
            meeting,
            "session_changed",
            _("Changed time or place: %(title)s", title=_md(meeting.title)),
            lines,
            _("Details"),
        )


def session_cancelled(meeting: Meeting, language: str) -> Notice:
    with force_locale(language):
        return _about(
            meeting,
            "session_cancelled",
            _("Cancelled: %(title)s", title=_md(meeting.title)),
            [_("**This session will not take place.**"), *_session_lines(meeting, language)],
            _("Details"),
        )


def series_cancelled(series: Series, first: Meeting, cancelled: int, language: str) -> Notice:
    with force_locale(language):
        lines = [
            _("**The whole series is cancelled.**"),
            ngettext(
                "%(num)d coming session will not take place.",
                "%(num)d coming sessions will not take place.",
                cancelled,
            ),
            _("**Community**: %(name)s", name=_md(first.community.name)),
        ]
        return _about(
            first,
            "series_cancelled",
            _("Series cancelled: %(title)s", title=_md(series.title)),
            lines,
            _("Details"),
        )


def minutes_published(meeting: Meeting, items, language: str) -> Notice:
    """``items``: the agenda items, with their resolutions, cases and votes loaded."""
    with force_locale(language):
        resolutions = [i for i in items if i.resolution is not None]
        closed = sum(len(i.resolution.cases) for i in resolutions)
        lines = [
            _(
                "**Time**: %(when)s",
                when=when(meeting.starts_at, meeting.ends_at, meeting.timezone, language),
            ),
            ngettext("%(num)d resolution", "%(num)d resolutions", len(resolutions))
            + _(", ")
            + ngettext("%(num)d case closed", "%(num)d cases closed", closed),
        ]
        for item in resolutions:
            r = item.resolution
            line = f"> {item.position}. {_md(item.title)}: **{label(r.outcome, 'outcome')}**"
            vote = getattr(item, "vote", None)
            if vote is not None:
                line += _(
                    "; vote %(result)s (%(for)d for, %(against)d against, %(abstain)d abstaining)",
                    result=label(vote.result, "vote_result"),
                    **{
                        "for": vote.votes_for,
                        "against": vote.votes_against,
                        "abstain": vote.votes_abstain,
                    },
                )
            if r.cases:
                line += _("; ") + ngettext(
                    "%(num)d case closed", "%(num)d cases closed", len(r.cases)
                )
            lines.append(line)
        return _about(
            meeting,
            "minutes_published",
            _("Minutes published: %(title)s", title=_md(meeting.title)),
            lines,
            _("Read the minutes"),
            minutes_link(meeting.id),
        )


DEFAULT_SMS_TEMPLATE = "{title}: {time}, {place}. {link}"


def reminder_text(template: str | None, registration, language: str) -> str:
    """The SMS text of a reminder, from the channel's template (or the default one)."""
    meeting = registration.meeting
    with force_locale(language):
        values = {
            "name": registration.display_name,
            "title": meeting.title,
            "time": when(meeting.starts_at, meeting.ends_at, meeting.timezone, language),
            "place": meeting.venue.name if meeting.venue is not None else "",
            "link": session_link(meeting.id),
        }
        if not template:
            template = _("Reminder: {title}, {time}, {place}. {link}")
    return render_template_text(template, values)


def render_template_text(template: str, values: dict) -> str:
    """Fill {name} placeholders; an unknown or malformed one stays as it is."""
    import re

    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), template)
