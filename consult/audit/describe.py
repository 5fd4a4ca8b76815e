"""Audit entries told as sentences in the reader's language ("状态：待处理 → 已解决").

The audit log stores machine codes (``case.status``, ``{"status": ["open", "resolved"]}``);
pages show what each entry means, never the codes.
"""

from __future__ import annotations

from typing import TypeGuard

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from consult.cases.labels import case_label

#: What each kind of entry says happened.
ACTIONS = {
    "case.create": _l("Case opened"),
    "case.import": _l("Case imported from the grid platform"),
    "case.status": _l("Status changed"),
    "case.escalate": _l("Escalated to the next grid level"),
    "case.comment": _l("Comment added"),
    "case.issue": _l("Put into an issue"),
    "case.left_open": _l("Left open when its issue was resolved"),
    "issue.create": _l("Issue created"),
    "issue.status": _l("Status changed"),
    "issue.cases_left_open": _l("Cases left open when the issue was resolved"),
    "evaluation.create": _l("Representative's rating"),
    "agenda.add": _l("Put on the agenda"),
    "agenda.move": _l("Agenda order changed"),
    "agenda.duration": _l("Planned time changed"),
    "resolution.create": _l("Resolution recorded"),
    "minutes.save": _l("Minutes saved"),
    "minutes.unapprove": _l("Minutes changed after approval: back to draft"),
    "minutes.approve": _l("Minutes approved"),
    "minutes.publish": _l("Minutes published"),
    "meeting.held": _l("Session held"),
    "action.done": _l("Action reported done"),
}

#: The vocabulary of a "status" change, by the kind of object.
STATUS_VOCABULARY = {
    "cases": "case_status",
    "issues": "issue_status",
    "minutes": "minutes_status",
    "meetings": "session_status",
    "action_items": "action_status",
}

#: How the choice "defer them" / "say why" reads.
CHOICES = {
    "defer": _l("deferred to a later session"),
    "reason": _l("with a reason"),
}


def _dash(value) -> str:
    return "—" if value in (None, "") else str(value)


def _ids(values) -> str:
    return ", ".join(f"#{v}" for v in values)


def describe_action(entry) -> str:
    """Return what an entry says happened, in the reader's language."""
    known = ACTIONS.get(entry.action)
    return str(known) if known is not None else _("Change recorded")


def describe_details(entry) -> list[str]:
    """Return the entry's details as short sentences in the reader's language."""
    data = entry.data or {}
    return [
        *_moves(entry, data),
        *_values(entry, data),
        *_references(entry, data),
        *_texts(data),
    ]


def _pair(value) -> TypeGuard[list | tuple]:
    return isinstance(value, list | tuple) and len(value) == 2


def _moves(entry, data: dict) -> list[str]:
    """The changes of status, grid level and issue, as "from → to"."""
    lines: list[str] = []
    status = data.get("status")
    if _pair(status):
        vocabulary = STATUS_VOCABULARY.get(entry.object_type, "case_status")
        lines.append(
            _(
                "Status: %(from)s → %(to)s",
                **{
                    "from": _dash(status[0] and case_label(status[0], vocabulary)),
                    "to": _dash(status[1] and case_label(status[1], vocabulary)),
                },
            )
        )
    level = data.get("level")
    if _pair(level):
        lines.append(
            _("Grid level: %(from)s → %(to)s", **{"from": _dash(level[0]), "to": _dash(level[1])})
        )
    issue = data.get("issue")
    if _pair(issue):
        lines.append(
            _(
                "Issue: %(from)s → %(to)s",
                **{
                    "from": "—" if issue[0] is None else f"#{issue[0]}",
                    "to": "—" if issue[1] is None else f"#{issue[1]}",
                },
            )
        )
    return lines


def _values(entry, data: dict) -> list[str]:
    """The values the entry recorded: category, source, reference, title, outcome, rating."""
    lines: list[str] = []
    if data.get("category"):
        lines.append(_("Category: %(value)s", value=case_label(data["category"], "category")))
    if data.get("source"):
        lines.append(_("Source: %(value)s", value=case_label(data["source"], "source")))
    if data.get("reference"):
        lines.append(_("Reference: %(value)s", value=data["reference"]))
    if data.get("title") and entry.action != "agenda.add":
        lines.append(_("Title: %(value)s", value=data["title"]))
    if data.get("outcome"):
        lines.append(_("Outcome: %(value)s", value=case_label(data["outcome"], "outcome")))
    if data.get("rating"):
        lines.append(_("Rating: %(value)s", value=case_label(data["rating"], "rating")))
    return lines


def _references(entry, data: dict) -> list[str]:
    """What the entry points to: cases, a vote's choice, a resolution, a minutes version."""
    lines: list[str] = []
    if data.get("closes_cases"):
        lines.append(_("Closes cases %(ids)s", ids=_ids(data["closes_cases"])))
    if data.get("cases"):
        lines.append(_("Cases %(ids)s", ids=_ids(data["cases"])))
    if data.get("choice") in CHOICES:
        lines.append(str(CHOICES[data["choice"]]))
    if data.get("resolution") and entry.action != "resolution.create":
        lines.append(_("Resolution %(id)s", id=data["resolution"]))
    if data.get("version") and entry.action.startswith("minutes."):
        lines.append(_("Version %(n)s", n=data["version"]))
    return lines


def _texts(data: dict) -> list[str]:
    """The free texts the person gave: a reason, a note."""
    lines: list[str] = []
    if data.get("reason"):
        lines.append(_("Reason: %(text)s", text=data["reason"]))
    if data.get("note"):
        lines.append(_("Note: %(text)s", text=data["note"]))
    return lines
