"""Every write about agendas, resolutions, actions and minutes. Operations flush; the
caller commits once, so a refusal anywhere leaves the database as it was."""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from consult import audit
from consult.accounts.models import User
from consult.cases.labels import as_text, case_label, stored_text
from consult.cases.models import Case, Issue
from consult.cases.operations import case_event, resolve_issue, transition
from consult.community.models import Unit
from consult.enums import (
    ActionStatus,
    CaseEventKind,
    CaseStatus,
    MinutesStatus,
    Outcome,
    SessionStatus,
)
from consult.errors import RefusedInput, clean_text
from consult.extensions import db
from consult.i18n import Choices
from consult.mail import notices
from consult.meetings.models import Meeting
from consult.minutes.models import ActionItem, AgendaItem, Minutes, MinutesRevision, Resolution
from consult.types import utcnow

MAX_NOTE = 50_000
MAX_TEXT = 20_000
MAX_DURATION = 600
MAX_ACTIONS = 50


class MinutesError(RefusedInput):
    """Refused input about agendas, resolutions, actions or minutes."""


class StaleMinutes(MinutesError):
    """A save that started from a version that is no longer the current one."""

    def __init__(self):
        super().__init__(
            as_text(_l("Someone saved these minutes after you opened them; nothing was saved.")),
            "version",
            status=409,
            code="stale_version",
        )


def _refuse_cancelled(meeting: Meeting) -> None:
    if meeting.is_cancelled:
        raise MinutesError(_l("The session is cancelled."), "session", status=409)


def _lock_meeting(meeting: Meeting) -> None:
    # Serialises agenda changes of one session on PostgreSQL (SQLite: the write lock).
    db.session.execute(select(Meeting.id).where(Meeting.id == meeting.id).with_for_update())


# -- agenda ---------------------------------------------------------------------------


def _int_or_none(value, field: str):
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MinutesError(_l("Give a whole number."), field)
    return value


def _duration(value):
    value = _int_or_none(value, "duration_minutes")
    if value is not None and not 1 <= value <= MAX_DURATION:
        raise MinutesError(
            _l("The planned time is between 1 and %(n)d minutes.", n=MAX_DURATION),
            "duration_minutes",
        )
    return value


def add_agenda_item(meeting: Meeting, data: dict, user) -> AgendaItem:
    """Put a topic on a session's agenda: {title?, issue?, carried_action?, duration_minutes?}.

    An issue must be open (or reopened) and of the session's community; an action item
    carried over must be open and come from an earlier session of that community.
    """
    _refuse_cancelled(meeting)
    _lock_meeting(meeting)
    issue_id = _int_or_none(data.get("issue"), "issue")
    action_id = _int_or_none(data.get("carried_action"), "carried_action")
    duration = _duration(data.get("duration_minutes"))
    issue = None
    action = None
    default_title = None
    if issue_id is not None:
        issue = db.session.get(Issue, issue_id)
        if issue is None:
            raise MinutesError(_l("There is no issue %(id)s.", id=issue_id), "issue")
        if issue.community_id != meeting.community_id:
            raise MinutesError(_l("The issue belongs to another community."), "issue")
        if not issue.active:
            raise MinutesError(
                _l(
                    "The issue has the status “%(status)s”; only open issues go on an agenda.",
                    status=case_label(issue.status, "issue_status"),
                ),
                "issue",
            )
        if db.session.scalar(
            select(func.count(AgendaItem.id)).where(
                AgendaItem.meeting_id == meeting.id, AgendaItem.issue_id == issue.id
            )
        ):
            raise MinutesError(_l("The issue is on this agenda already."), "issue", status=409)
        default_title = issue.title
    if action_id is not None:
        action = db.session.get(ActionItem, action_id)
        if action is None:
            raise MinutesError(_l("There is no action %(id)s.", id=action_id), "carried_action")
        earlier = action.resolution.agenda_item.meeting
        if earlier.community_id != meeting.community_id or earlier.id == meeting.id:
            raise MinutesError(
                _l("The action comes from no earlier session of this community."),
                "carried_action",
            )
        if action.status != ActionStatus.OPEN:
            raise MinutesError(_l("The action is done already."), "carried_action")
        if db.session.scalar(
            select(func.count(AgendaItem.id)).where(
                AgendaItem.meeting_id == meeting.id, AgendaItem.carried_action_id == action.id
            )
        ):
            raise MinutesError(
                _l("The action is on this agenda already."), "carried_action", status=409
            )
        default_title = stored_text(_l("Follow-up: %(what)s", what=action.description))[:200]
        if issue is None and action.resolution.agenda_item.issue_id is not None:
            issue = action.resolution.agenda_item.issue
            if not issue.active:
                issue = None
    title = data.get("title")
    if (title is None or not str(title).strip()) and default_title:
        title = default_title
    title = clean_text(title, "title", 200, label=_l("title"))
    last = db.session.scalar(
        select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting.id)
    )
    item = AgendaItem(
        meeting_id=meeting.id,
        position=(last or 0) + 1,
        title=title,
        issue_id=getattr(issue, "id", None),
        carried_action_id=getattr(action, "id", None),
        duration_minutes=duration,
        created_at=utcnow(),
    )
    db.session.add(item)
    db.session.flush()
    audit.record(
        "agenda.add",
        item,
        user,
        session=meeting.id,
        title=title,
        issue=item.issue_id,
        carried_action=item.carried_action_id,
    )
    return item


def _renumbered(meeting_id: int) -> list[AgendaItem]:
    items = list(
        db.session.scalars(
            select(AgendaItem)
            .where(AgendaItem.meeting_id == meeting_id)
            .order_by(AgendaItem.position, AgendaItem.id)
        )
    )
    for number, item in enumerate(items, start=1):
        item.position = number
    return items


def move_agenda_item(item: AgendaItem, direction: str, user) -> AgendaItem:
    """Move an agenda item one place up or down."""
    if direction not in ("up", "down"):
        raise MinutesError(_l("Move an item up or down."), "direction")
    _lock_meeting(item.meeting)
    items = _renumbered(item.meeting_id)
    index = items.index(item)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(items):
        old = item.position
        items[index].position, items[other].position = items[other].position, old
        db.session.flush()
        audit.record("agenda.move", item, user, position=[old, item.position])
    return item


def set_agenda_duration(item: AgendaItem, data: dict, user) -> AgendaItem:
    """Give an agenda item its planned time in minutes (or none)."""
    duration = _duration(data.get("duration_minutes"))
    old = item.duration_minutes
    item.duration_minutes = duration
    db.session.flush()
    if old != duration:
        audit.record("agenda.duration", item, user, duration_minutes=[old, duration])
    return item


# -- resolutions ----------------------------------------------------------------------


def _due_on(value, field: str):
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise MinutesError(_l("Give the due date as YYYY-MM-DD."), field)
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise MinutesError(_l("Give the due date as YYYY-MM-DD."), field) from None


def _action_values(raw, number: int) -> dict:
    field = f"actions.{number}"
    if not isinstance(raw, dict):
        raise MinutesError(_l("Each action is an object with a description."), field)
    unknown = set(raw) - {"description", "unit", "assignee", "due_on"}
    if unknown:
        raise MinutesError(_l("Unknown field %(name)s.", name=sorted(unknown)[0]), field)
    description = clean_text(
        raw.get("description"),
        f"{field}.description",
        MAX_TEXT,
        label=_l("description"),
        multiline=True,
    )
    unit_id = _int_or_none(raw.get("unit"), f"{field}.unit")
    assignee_id = _int_or_none(raw.get("assignee"), f"{field}.assignee")
    if unit_id is not None and db.session.get(Unit, unit_id) is None:
        raise MinutesError(_l("There is no unit %(id)s.", id=unit_id), f"{field}.unit")
    if assignee_id is not None and db.session.get(User, assignee_id) is None:
        raise MinutesError(_l("There is no person %(id)s.", id=assignee_id), f"{field}.assignee")
    return {
        "description": description,
        "unit_id": unit_id,
        "assignee_id": assignee_id,
        "due_on": _due_on(raw.get("due_on"), f"{field}.due_on"),
    }


def _closing_cases(item: AgendaItem, raw) -> list[Case]:
    if raw is None:
        raw = []
    if not isinstance(raw, list | tuple) or any(
        isinstance(v, bool) or not isinstance(v, int) for v in raw
    ):
        raise MinutesError(_l("Give a list of case numbers."), "closes_cases")
    ids = list(dict.fromkeys(raw))
    if not ids:
        return []
    found = {
        c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(ids)).with_for_update())
    }
    cases = []
    for case_id in ids:
        case = found.get(case_id)
        if case is None:
            raise MinutesError(_l("There is no case %(id)s.", id=case_id), "closes_cases")
        if item.issue_id is None or case.issue_id != item.issue_id:
            raise MinutesError(
                _l("Case %(id)s is not part of this agenda item's issue.", id=case_id),
                "closes_cases",
            )
        if not case.active:
            raise MinutesError(
                _l(
                    "Case %(id)s has the status “%(status)s” already.",
                    id=case_id,
                    status=case_label(case.status, "case_status"),
                ),
                "closes_cases",
            )
        cases.append(case)
    return cases


#: How the resolution form says why cases stay open when an issue is resolved.
LEFT_OPEN_CHOICES = ("defer", "reason")


def _left_open(
    item: AgendaItem, outcome: str, closing: list[Case], data: dict
) -> tuple[list[Case], str | None]:
    """Return the cases of the item's issue a "resolved" outcome leaves open, and why.

    Nothing closes silently: resolving an issue must close each of its cases still
    being handled, or say why some stay open (``open_cases_reason``; the form's choice
    "defer" gives a reason of its own).
    """
    if outcome != Outcome.RESOLVED or item.issue_id is None:
        return [], None
    closing_ids = {c.id for c in closing}
    left = list(
        db.session.scalars(
            select(Case)
            .where(
                Case.issue_id == item.issue_id,
                Case.active,
                Case.id.not_in(closing_ids or [0]),
            )
            .order_by(Case.id)
        )
    )
    if not left:
        return [], None
    raw = data.get("open_cases_reason")
    if raw is not None and not isinstance(raw, str):
        raise MinutesError(_l("Say in words why cases stay open."), "open_cases_reason")
    reason = (raw or "").strip()
    if not reason and data.get("open_cases_choice") == "defer":
        reason = stored_text(_l("Deferred to a later session."))
    if not reason:
        raise MinutesError(
            _l(
                "Resolving the issue leaves %(cases)s open: close them, or say why they stay open.",
                cases=", ".join(f"#{c.id}" for c in left),
            ),
            "open_cases_reason",
            code="cases_left_open",
        )
    reason = clean_text(reason, "open_cases_reason", MAX_TEXT, label=_l("reason"), multiline=True)
    return left, reason


def _record_left_open(
    issue: Issue, cases: list[Case], reason: str, data: dict, resolution: Resolution, user
) -> None:
    """Write on the timeline of the issue and of each case why they stay open."""
    choice = "defer" if data.get("open_cases_choice") == "defer" else "reason"
    ids = [c.id for c in cases]
    audit.record(
        "issue.cases_left_open",
        issue,
        user,
        cases=ids,
        choice=choice,
        reason=reason,
        resolution=resolution.id,
    )
    for case in cases:
        case_event(case, CaseEventKind.LEFT_OPEN, user, reason, resolution=resolution)
        audit.record(
            "case.left_open",
            case,
            user,
            issue=issue.id,
            choice=choice,
            reason=reason,
            resolution=resolution.id,
        )


def create_resolution(item: AgendaItem, data: dict, user) -> Resolution:
    """Record what the session decided on an agenda item, and close the cases it names.

    {text, outcome, closes_cases: [case ids], actions?: [...], referred_unit?,
    open_cases_reason?, open_cases_choice?}. Every case must be part of the item's issue
    and still being handled; one that is not and nothing changes. The issue becomes
    resolved when the outcome is "resolved", which must close every case of the issue
    still being handled or say why some stay open. Only a session that has started
    resolves or closes anything.
    """
    meeting = item.meeting
    _refuse_cancelled(meeting)
    text = clean_text(data.get("text"), "text", MAX_TEXT, label=_l("text"), multiline=True)
    outcome = data.get("outcome")
    if outcome not in Outcome:
        raise MinutesError(
            _l(
                "Choose an outcome: %(values)s.",
                values=Choices(Outcome, "outcome"),
            ),
            "outcome",
        )
    referred_unit_id = _int_or_none(data.get("referred_unit"), "referred_unit")
    if referred_unit_id is not None and db.session.get(Unit, referred_unit_id) is None:
        raise MinutesError(_l("There is no unit %(id)s.", id=referred_unit_id), "referred_unit")
    raw_actions = data.get("actions") or []
    if not isinstance(raw_actions, list | tuple):
        raise MinutesError(_l("Give a list of actions."), "actions")
    if len(raw_actions) > MAX_ACTIONS:
        raise MinutesError(_l("At most %(n)d actions.", n=MAX_ACTIONS), "actions")
    actions = [_action_values(raw, n) for n, raw in enumerate(raw_actions)]
    if item.resolution is not None:
        raise MinutesError(
            _l("This agenda item has a resolution already."), "agenda_item", status=409
        )
    cases = _closing_cases(item, data.get("closes_cases"))
    if (outcome == Outcome.RESOLVED or cases) and utcnow() < meeting.starts_at:
        raise MinutesError(
            _l(
                "The session has not started yet: it cannot resolve an issue or close cases "
                "before it is held."
            ),
            "outcome",
            status=409,
            code="not_started",
        )
    left_open, reason_left_open = _left_open(item, outcome, cases, data)

    resolution = Resolution(
        agenda_item_id=item.id,
        text=text,
        outcome=outcome,
        referred_unit_id=referred_unit_id,
        created_by_id=getattr(user, "id", None),
        created_at=utcnow(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(resolution)
            db.session.flush()
    except IntegrityError:
        # Another resolution of the same item was committed meanwhile.
        raise MinutesError(
            _l("This agenda item has a resolution already."), "agenda_item", status=409
        ) from None
    reason = stored_text(
        _l(
            "Resolution %(id)s on agenda item %(position)s (%(title)s) of session %(session)s.",
            id=resolution.id,
            position=item.position,
            title=item.title,
            session=meeting.title,
        )
    )
    for case in cases:
        transition(case, CaseStatus.RESOLVED, user, reason, resolution=resolution)
    new_actions = [
        ActionItem(
            resolution_id=resolution.id, status=ActionStatus.OPEN, created_at=utcnow(), **values
        )
        for values in actions
    ]
    db.session.add_all(new_actions)
    db.session.flush()
    for action in new_actions:
        notices.action_assigned(action, meeting)
    for case in cases:
        notices.case_resolved(case, resolution, meeting)
    if outcome == Outcome.RESOLVED and item.issue is not None and item.issue.active:
        resolve_issue(item.issue, resolution, user)
        notices.issue_awaits_rating(item.issue, meeting)
    if left_open:
        _record_left_open(item.issue, left_open, reason_left_open, data, resolution, user)
    audit.record(
        "resolution.create",
        resolution,
        user,
        outcome=outcome,
        agenda_item=item.id,
        session=meeting.id,
        closes_cases=[c.id for c in cases],
        actions=len(actions),
    )
    return resolution


# -- actions --------------------------------------------------------------------------


def report_action(action: ActionItem, data: dict, user) -> ActionItem:
    """Mark an action done with a note on what was done."""
    note = clean_text(data.get("note"), "note", MAX_TEXT, label=_l("note"), multiline=True)
    if action.status != ActionStatus.OPEN:
        raise MinutesError(
            _l(
                "The action has the status “%(status)s” already.",
                status=case_label(action.status, "action_status"),
            ),
            "status",
            status=409,
        )
    action.status = "done"
    action.done_at = utcnow()
    action.done_by_id = getattr(user, "id", None)
    action.done_note = note
    db.session.flush()
    audit.record("action.done", action, user, note=note)
    return action


# -- minutes --------------------------------------------------------------------------


def _notes(meeting: Meeting, raw) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise MinutesError(_l("Notes are an object keyed by agenda item id."), "notes")
    item_ids = {
        str(i)
        for i in db.session.scalars(
            select(AgendaItem.id).where(AgendaItem.meeting_id == meeting.id)
        )
    }
    notes: dict[str, str] = {}
    for key, value in raw.items():
        if str(key) not in item_ids:
            raise MinutesError(
                _l("%(key)s is not an agenda item of this session.", key=key), "notes"
            )
        if not isinstance(value, str):
            raise MinutesError(_l("Each note is text (Markdown)."), "notes")
        text = clean_text(
            value, "notes", MAX_NOTE, required=False, label=_l("notes"), multiline=True
        )
        if text:
            notes[str(key)] = text
    return notes


def current_minutes(meeting: Meeting, lock: bool = False) -> Minutes | None:
    query = select(Minutes).where(Minutes.meeting_id == meeting.id)
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query)


def save_minutes(meeting: Meeting, data: dict, user) -> Minutes:
    """Save a session's notes, starting from ``data["version"]``; refuse a stale version.

    Every save is a revision. Saved minutes mark the session held; saving approved
    minutes sends them back to draft (to be approved again).
    """
    version = data.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise MinutesError(_l("Give the version you started from."), "version")
    notes = _notes(meeting, data.get("notes"))
    minutes = current_minutes(meeting, lock=True)
    if minutes is not None and minutes.status == MinutesStatus.PUBLISHED:
        raise MinutesError(_l("Published minutes cannot be changed."), "status", status=409)
    current = minutes.version if minutes is not None else 0
    if version != current:
        raise StaleMinutes()
    now = utcnow()
    was_approved = minutes is not None and minutes.status == MinutesStatus.APPROVED
    try:
        with db.session.begin_nested():
            if minutes is None:
                minutes = Minutes(
                    meeting_id=meeting.id,
                    status="draft",
                    version=1,
                    notes=notes,
                    updated_by_id=user.id,
                    updated_at=now,
                )
                db.session.add(minutes)
                db.session.flush()
            else:
                if minutes.status == MinutesStatus.APPROVED:
                    minutes.status = "draft"
                    minutes.approved_at = None
                    minutes.approved_by_id = None
                    audit.record("minutes.unapprove", minutes, user, session=meeting.id)
                minutes.version = current + 1
                minutes.notes = dict(notes)
                minutes.updated_by_id = user.id
                minutes.updated_at = now
                db.session.flush()
            db.session.add(
                MinutesRevision(
                    minutes_id=minutes.id,
                    version=minutes.version,
                    notes=dict(notes),
                    author_id=user.id,
                    created_at=now,
                )
            )
            db.session.flush()
    except (StaleDataError, IntegrityError):
        # A concurrent save of the same version won the race.
        raise StaleMinutes() from None
    audit.record(
        "minutes.save",
        minutes,
        user,
        session=meeting.id,
        version=minutes.version,
        items=sorted(notes),
    )
    if (current == 0 or was_approved) and utcnow() >= meeting.starts_at:
        notices.minutes_await_approval(meeting, user)
    if meeting.status == SessionStatus.SCHEDULED and utcnow() >= meeting.starts_at:
        meeting.status = "held"
        db.session.flush()
        audit.record("meeting.held", meeting, user, status=["scheduled", "held"])
    return minutes


def _move_minutes(meeting: Meeting, from_status: str, to_status: str, user) -> Minutes:
    minutes = current_minutes(meeting, lock=True)
    if minutes is None:
        raise MinutesError(
            _l("No minutes have been saved for this session yet."), "status", status=409
        )
    if minutes.status != from_status:
        raise MinutesError(
            _l(
                "The minutes have the status “%(status)s”; only minutes with the status "
                "“%(wanted)s” can become “%(to)s”.",
                status=case_label(minutes.status, "minutes_status"),
                wanted=case_label(from_status, "minutes_status"),
                to=case_label(to_status, "minutes_status"),
            ),
            "status",
            status=409,
        )
    now = utcnow()
    if to_status == "approved" and now < meeting.starts_at:
        raise MinutesError(
            _l("The session has not started yet; its minutes can be approved once it has."),
            "status",
            status=409,
            code="not_started",
        )
    minutes.status = to_status
    if to_status == "approved":
        minutes.approved_at, minutes.approved_by_id = now, user.id
    else:
        minutes.published_at, minutes.published_by_id = now, user.id
    db.session.flush()
    audit.record(
        f"minutes.{'approve' if to_status == 'approved' else 'publish'}",
        minutes,
        user,
        session=meeting.id,
        status=[from_status, to_status],
        version=minutes.version,
    )
    return minutes


def approve_minutes(meeting: Meeting, user) -> Minutes:
    """Approve draft minutes (the chair: a cadre or an admin)."""
    return _move_minutes(meeting, "draft", "approved", user)


def publish_minutes(meeting: Meeting, user) -> Minutes:
    """Publish approved minutes: residents can read them from now on; those who attended
    are told by mail, and the community's group chats (resolutions, votes, cases closed)."""
    from consult.notices import notify as channels

    minutes = _move_minutes(meeting, "approved", "published", user)
    notices.minutes_published(meeting)
    channels.minutes_published(meeting)
    return minutes
