"""Reads about agendas, minutes and actions that the pages and the API share."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from consult.cases.models import Case
from consult.enums import MinutesStatus, RegistrationStatus
from consult.extensions import db
from consult.meetings.models import Attendance, Invitation, Meeting, Registration
from consult.minutes.models import (
    ActionItem,
    AgendaItem,
    Minutes,
    MinutesRevision,
    Resolution,
    resolution_cases,
)
from consult.minutes.render import (
    mask_markdown,
    mask_text,
    render_markdown,
    render_masked,
)
from consult.permissions import actions_clause, can, named_in_minutes


def agenda_items(meeting: Meeting) -> list[AgendaItem]:
    """Return the session's agenda in order, with issues, resolutions, cases and actions."""
    return list(
        db.session.scalars(
            select(AgendaItem)
            .where(AgendaItem.meeting_id == meeting.id)
            .options(
                joinedload(AgendaItem.issue),
                joinedload(AgendaItem.vote),
                joinedload(AgendaItem.resolution).selectinload(Resolution.cases),
                joinedload(AgendaItem.resolution)
                .selectinload(Resolution.actions)
                .options(joinedload(ActionItem.unit), joinedload(ActionItem.assignee)),
            )
            .order_by(AgendaItem.position, AgendaItem.id)
        ).unique()
    )


def issue_cases(items: list[AgendaItem]) -> dict[int, list[Case]]:
    """Return {issue id: its cases} for the agenda's issues, in one query."""
    issue_ids = {i.issue_id for i in items if i.issue_id is not None}
    out: dict[int, list[Case]] = {i: [] for i in issue_ids}
    if issue_ids:
        for case in db.session.scalars(
            select(Case).where(Case.issue_id.in_(issue_ids)).order_by(Case.id)
        ):
            if case.issue_id is not None:
                out[case.issue_id].append(case)
    return out


def minutes_for(meeting: Meeting) -> Minutes | None:
    return db.session.scalar(select(Minutes).where(Minutes.meeting_id == meeting.id))


def may_read_minutes(user, meeting: Meeting, minutes: Minutes | None) -> bool:
    """Staff read minutes in any status; others only published minutes of sessions they
    may see (the caller has checked that)."""
    if can(user, "minutes.read_draft", meeting):
        return True
    return minutes is not None and minutes.status == MinutesStatus.PUBLISHED


@dataclass
class Present:
    name: str
    status: str
    #: Whether the name is hidden in published minutes (a resident who did not agree).
    masked: bool
    role: str | None = None


def _person_masked(user) -> bool:
    return not named_in_minutes(user)


def attendance(meeting: Meeting) -> list[Present]:
    """Return who was recorded at the session (present, late or absent), by name."""
    return attendance_of([meeting.id])[meeting.id]


def attendance_of(meeting_ids) -> dict[int, list[Present]]:
    """Return {meeting id: who was recorded there} for several sessions, in one query."""
    out: dict[int, list[Present]] = {meeting_id: [] for meeting_id in meeting_ids}
    if not out:
        return out
    rows = db.session.scalars(
        select(Attendance)
        .where(Attendance.meeting_id.in_(list(out)))
        .options(
            joinedload(Attendance.registration).joinedload(Registration.user),
            joinedload(Attendance.invitation).joinedload(Invitation.user),
            joinedload(Attendance.invitation).joinedload(Invitation.unit),
        )
        .order_by(Attendance.recorded_at, Attendance.id)
    )
    for row in rows:
        out[row.meeting_id].append(_present(row))
    return out


def _present(row: Attendance) -> Present:
    if row.registration is not None:
        user = row.registration.user
        if user is not None:
            return Present(user.name, row.status, _person_masked(user), user.role)
        return Present(row.registration.name or "", row.status, True)
    if row.invitation is not None:
        inv = row.invitation
        if inv.user is not None:
            return Present(inv.user.name, row.status, _person_masked(inv.user), inv.user.role)
        name = inv.name or inv.email
        if inv.unit is not None:
            name = f"{name} ({inv.unit.name})"
        return Present(name, row.status, inv.unit is None)
    return Present(row.name or "", row.status, True)


def confirmed_registrations(meeting: Meeting) -> int:
    from sqlalchemy import func

    return (
        db.session.scalar(
            select(func.count(Registration.id)).where(
                Registration.meeting_id == meeting.id,
                Registration.status == RegistrationStatus.CONFIRMED,
            )
        )
        or 0
    )


def names_to_mask(meeting: Meeting, present: list[Present] | None = None) -> set[str]:
    """Return the names of residents who did not agree to be named in the minutes:
    registrants and attendees without consent, and the reporters of the cases discussed."""
    given = {meeting.id: present} if present is not None else None
    return names_to_mask_of([meeting.id], given)[meeting.id]


def names_to_mask_of(
    meeting_ids: list[int], present: dict[int, list[Present]] | None = None
) -> dict[int, set[str]]:
    """Return {meeting id: ``names_to_mask`` of that session} for several sessions, in a
    fixed number of queries however many there are."""
    present = present if present is not None else attendance_of(meeting_ids)
    names = {
        meeting_id: {p.name for p in present.get(meeting_id, ()) if p.masked}
        for meeting_id in meeting_ids
    }
    for registration in _registrations_of(meeting_ids):
        if registration.status == "cancelled":
            continue
        if registration.user is None:
            names[registration.meeting_id].add(registration.name or "")
        elif _person_masked(registration.user):
            names[registration.meeting_id].add(registration.user.name)
    discussed = (
        select(AgendaItem.meeting_id, Case.reporter_name)
        .join(Case, Case.issue_id == AgendaItem.issue_id)
        .where(AgendaItem.meeting_id.in_(meeting_ids), Case.reporter_name.is_not(None))
        .union(
            select(Case.meeting_id, Case.reporter_name).where(
                Case.meeting_id.in_(meeting_ids), Case.reporter_name.is_not(None)
            )
        )
    )
    if meeting_ids:
        for meeting_id, name in db.session.execute(discussed):
            if name is not None:
                names[meeting_id].add(name)
    for found in names.values():
        found.discard("")
    return names


def _registrations_of(meeting_ids: list[int]) -> list[Registration]:
    """The sessions' registrations (cancelled ones too), with their accounts."""
    if not meeting_ids:
        return []
    return list(
        db.session.scalars(
            select(Registration)
            .where(Registration.meeting_id.in_(meeting_ids))
            .options(joinedload(Registration.user))
        )
    )


def community_resident_names(community_id: int) -> set[str]:
    """Return the names of the residents who belong to a community."""
    return _community_residents_of([community_id])[community_id]


def _community_residents_of(community_ids) -> dict[int, set[str]]:
    from consult.accounts.models import Membership, User

    out: dict[int, set[str]] = {community_id: set() for community_id in community_ids}
    if out:
        for community_id, name in db.session.execute(
            select(Membership.community_id, User.name)
            .select_from(User)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.community_id.in_(list(out)), User.role == "resident")
        ):
            out[community_id].add(name)
    return out


def public_masker(meeting: Meeting, community_residents: set[str] | None = None):
    """Return the function that masks residents' names in what the public sees of a
    session (public pages, open data, noticeboard, posters).

    Masked there are the names the minutes mask, and besides every resident's name,
    whether or not they agreed to be named in the minutes: registrants, attendees, the
    reporters of the cases the session discussed or closed, and the residents of the
    session's community (``community_residents`` when the caller loaded them already).
    """
    residents = None
    if community_residents is not None:
        residents = {meeting.community_id: community_residents}
    return public_maskers([meeting], residents)[meeting.id]


def public_maskers(meetings, community_residents: dict[int, set[str]] | None = None) -> dict:
    """Return {meeting id: ``public_masker`` of that session} for several sessions, in a
    fixed number of queries however many there are."""
    meetings = list({m.id: m for m in meetings}.values())
    ids = [m.id for m in meetings]
    present = attendance_of(ids)
    names = names_to_mask_of(ids, present)
    for meeting_id, people in present.items():
        names[meeting_id].update(p.name for p in people if p.role in (None, "resident"))
    for registration in _registrations_of(ids):
        user = registration.user
        if user is not None and user.role == "resident":
            names[registration.meeting_id].add(user.name)
    if ids:
        closed = (
            select(AgendaItem.meeting_id, Case.reporter_name)
            .select_from(resolution_cases)
            .join(Resolution, Resolution.id == resolution_cases.c.resolution_id)
            .join(AgendaItem, AgendaItem.id == Resolution.agenda_item_id)
            .join(Case, Case.id == resolution_cases.c.case_id)
            .where(AgendaItem.meeting_id.in_(ids), Case.reporter_name.is_not(None))
        )
        for meeting_id, name in db.session.execute(closed):
            if name is not None:
                names[meeting_id].add(name)
    residents = dict(community_residents or {})
    missing = {m.community_id for m in meetings} - set(residents)
    residents.update(_community_residents_of(missing))
    maskers = {}
    for meeting in meetings:
        found = names[meeting.id] | residents[meeting.community_id]
        found.discard("")
        maskers[meeting.id] = _masker(found)
    return maskers


def _masker(names: set[str]):
    def mask(text: str | None) -> str:
        return mask_text(text or "", names)

    return mask


def minutes_document(
    meeting: Meeting, minutes: Minutes | None, user, with_votes: bool = True
) -> dict:
    """Return the minutes object of the API; residents' names masked for non-staff.
    ``with_votes=False`` leaves out the votes (for a page that has them already)."""
    notes = dict(minutes.notes) if minutes is not None else {}
    if not can(user, "names.read", meeting) and notes:
        # Masked before rendering, so that no Markdown inside a name lets it through.
        names = names_to_mask(meeting)
        html = {key: render_masked(text, names) for key, text in notes.items()}
        notes = {key: mask_markdown(text, names, escape=False) for key, text in notes.items()}
    else:
        html = {key: render_markdown(text) for key, text in notes.items()}
    from consult.votes.queries import meeting_votes, vote_document

    return {
        "session": meeting.id,
        "status": minutes.status if minutes is not None else "draft",
        "version": minutes.version if minutes is not None else 0,
        "notes": notes,
        "html": html,
        "votes": {str(k): vote_document(v) for k, v in meeting_votes(meeting).items()}
        if with_votes
        else {},
    }


def revisions(minutes: Minutes | None) -> list[MinutesRevision]:
    if minutes is None:
        return []
    return list(
        db.session.scalars(
            select(MinutesRevision)
            .where(MinutesRevision.minutes_id == minutes.id)
            .options(joinedload(MinutesRevision.author))
            .order_by(MinutesRevision.version.desc())
        )
    )


@dataclass
class ItemDiff:
    key: str
    title: str
    lines: list[tuple[str, str]]

    @property
    def changed(self) -> bool:
        return any(kind in ("add", "del") for kind, _ in self.lines)


def revision_diff(
    old: MinutesRevision, new: MinutesRevision, titles: dict[str, str]
) -> list[ItemDiff]:
    """Return, per agenda item, the lines of a unified diff between two revisions."""
    keys = sorted(set(old.notes) | set(new.notes), key=lambda k: (len(k), k))
    out = []
    for key in keys:
        a = (old.notes.get(key) or "").splitlines()
        b = (new.notes.get(key) or "").splitlines()
        lines = []
        for line in difflib.unified_diff(
            a, b, f"v{old.version}", f"v{new.version}", lineterm="", n=2
        ):
            if line.startswith(("---", "+++")):
                continue
            kind = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")
            lines.append((kind, line))
        out.append(ItemDiff(key, titles.get(key, f"#{key}"), lines))
    return out


def actions_select(user, status: str | None = "open"):
    """Select the actions ``user`` reports on: a unit representative's unit's, and
    those assigned to them; organisers see every action."""
    from consult.meetings.models import Meeting

    query = (
        select(ActionItem)
        .join(Resolution, Resolution.id == ActionItem.resolution_id)
        .join(AgendaItem, AgendaItem.id == Resolution.agenda_item_id)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .options(
            joinedload(ActionItem.unit),
            joinedload(ActionItem.assignee),
            joinedload(ActionItem.done_by),
            joinedload(ActionItem.resolution)
            .joinedload(Resolution.agenda_item)
            .joinedload(AgendaItem.meeting),
        )
        .order_by(ActionItem.due_on.is_(None), ActionItem.due_on, ActionItem.id)
    )
    if status:
        query = query.where(ActionItem.status == status)
    return query.where(actions_clause(user))


def title_masker(meeting: Meeting, user):
    """Return a function giving a title (agenda item, issue, case, action) as ``user``
    reads it in the session's minutes: residents' names masked unless ``user`` may read
    them."""
    if can(user, "names.read", meeting):
        return lambda text: text
    names: set[str] | None = None

    def mask(text):
        nonlocal names
        if names is None:
            names = names_to_mask(meeting)
        return mask_text(text or "", names)

    return mask


def load_agenda_item(item_id: int) -> AgendaItem | None:
    if not 0 < item_id < 2**31:
        return None  # no row has such an id (and the database could not compare it)
    return db.session.scalar(
        select(AgendaItem)
        .where(AgendaItem.id == item_id)
        .options(
            joinedload(AgendaItem.meeting),
            joinedload(AgendaItem.issue),
            joinedload(AgendaItem.resolution),
            joinedload(AgendaItem.vote),
        )
    )


def item_titles(items: list[AgendaItem]) -> dict[str, str]:
    return {str(i.id): f"{i.position}. {i.title}" for i in items}


def revision_pair(minutes: Minutes, a: int, b: int):
    rows = {
        r.version: r
        for r in db.session.scalars(
            select(MinutesRevision)
            .where(MinutesRevision.minutes_id == minutes.id, MinutesRevision.version.in_((a, b)))
            .options(selectinload(MinutesRevision.author))
        )
    }
    return rows.get(a), rows.get(b)


def meeting_audit(minutes: Minutes | None, items: list[AgendaItem]):
    """Return the audit entries of the minutes, the agenda items and their resolutions."""
    from sqlalchemy import and_

    from consult.audit.models import AuditEntry

    clauses = []
    if minutes is not None:
        clauses.append(
            and_(AuditEntry.object_type == "minutes", AuditEntry.object_id == minutes.id)
        )
    if items:
        clauses.append(
            and_(
                AuditEntry.object_type == "agenda_items",
                AuditEntry.object_id.in_([i.id for i in items]),
            )
        )
        resolution_ids = [i.resolution.id for i in items if i.resolution is not None]
        if resolution_ids:
            clauses.append(
                and_(
                    AuditEntry.object_type == "resolutions",
                    AuditEntry.object_id.in_(resolution_ids),
                )
            )
    if not clauses:
        return []
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(or_(*clauses))
            .options(joinedload(AuditEntry.actor))
            .order_by(AuditEntry.at, AuditEntry.id)
        )
    )
