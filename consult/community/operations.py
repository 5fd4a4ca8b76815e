"""Every write about communities, venues, alliance units and agreements.

Operations take plain data, flush, write the audit entry and never commit.
"""

from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from consult import audit
from consult.community.models import Agreement, AllianceMember, Community, Unit, Venue
from consult.enums import UnitKind, VenueKind
from consult.errors import RefusedInput, clean_text
from consult.extensions import db

#: Larger than any hall; keeps capacities inside a 32-bit integer column.
MAX_CAPACITY = 100_000
MAX_COMMITMENTS = 10_000


class CommunityError(RefusedInput):
    """Refused input about communities, venues, units or agreements."""


def _text(value, field: str, max_length: int, **kwargs):
    return clean_text(value, field, max_length, error=CommunityError, **kwargs)


def _changes(obj, values: dict) -> dict:
    """Apply ``values`` to ``obj``; return {field: [old, new]} for what changed."""
    changed = {}
    for field, value in values.items():
        old = getattr(obj, field)
        if old != value:
            changed[field] = [_plain(old), _plain(value)]
            setattr(obj, field, value)
    return changed


def _plain(value):
    return value.isoformat() if isinstance(value, date) else value


def _exists(model, object_id, field: str, message):
    if object_id is None:
        return None
    obj = db.session.get(model, object_id)
    if obj is None:
        raise CommunityError(message, field)
    return obj


# -- communities ----------------------------------------------------------------------


def _community_values(data: dict, community: Community | None) -> dict:
    name = _text(data.get("name"), "name", 120, label=_l("name"))
    taken = select(func.count(Community.id)).where(Community.name == name)
    if community is not None:
        taken = taken.where(Community.id != community.id)
    if db.session.scalar(taken):
        raise CommunityError(
            _l("A community called %(name)s already exists.", name=name), "name", status=409
        )
    brand = _text(data.get("brand"), "brand", 120, required=False, label=_l("brand"))
    return {"name": name, "brand": brand}


def community_by_name(name, user=None, create: bool = False, field: str = "community") -> Community:
    """Return the community called ``name``; with ``create``, make it on first use.

    Only those who may (organisers; the command line, without a user) create one; for
    anyone else an unknown name is refused (422, code ``no_such_community``, on
    ``field``). Two requests creating the same name at once both get the one community:
    the insert runs in a savepoint, and the loser reads the winner's row.
    """
    from consult.community.queries import community_named
    from consult.permissions import can

    name = _text(name, field, 120, label=_l("community"))
    community = community_named(name)
    if community is not None:
        return community
    if not create or (user is not None and not can(user, "community.create_by_name")):
        raise CommunityError(
            _l("There is no community called %(name)s.", name=name), field, code="no_such_community"
        )
    try:
        with db.session.begin_nested():
            community = Community(name=name)
            db.session.add(community)
            db.session.flush()
    except IntegrityError:
        # Another request created it a moment ago.
        return db.session.scalars(select(Community).where(Community.name == name)).one()
    audit.record("community.create", community, user, name=name)
    return community


def get_or_create_community(name: str, user=None) -> Community:
    """Return the community called ``name``, creating it on first use."""
    return community_by_name(name, user, create=True)


def create_community(data: dict, user) -> Community:
    """Create a community from {name, brand?}."""
    community = Community(**_community_values(data, None))
    db.session.add(community)
    db.session.flush()
    audit.record("community.create", community, user, name=community.name)
    return community


def update_community(community: Community, data: dict, user) -> Community:
    """Rename a community or change its brand.

    A new name raises the community's ``calendar_version`` (in the same UPDATE): lists
    kept under the counters show each session's community by name (the sessions API,
    the sessions page: consult.community.versions), and no trigger follows the
    communities' own rows."""
    changed = _changes(community, _community_values(data, community))
    if "name" in changed:
        community.calendar_version = Community.calendar_version + 1
    db.session.flush()
    if changed:
        audit.record("community.update", community, user, **changed)
    return community


# -- venues ---------------------------------------------------------------------------


def _capacity(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommunityError(_l("The capacity must be a whole number."), "capacity")
    if value < 0:
        raise CommunityError(_l("The capacity cannot be negative."), "capacity")
    if value > MAX_CAPACITY:
        raise CommunityError(_l("The capacity is at most %(n)d.", n=MAX_CAPACITY), "capacity")
    return value


def _venue_values(data: dict, venue: Venue | None) -> dict:
    name = _text(data.get("name"), "name", 200, label=_l("name"))
    kind = data.get("kind") or "meeting_room"
    if kind not in VenueKind:
        raise CommunityError(_l("Unknown kind of venue."), "kind")
    community = _exists(Community, data.get("community_id"), "community", _l("No such community."))
    unit = _exists(Unit, data.get("unit_id"), "unit", _l("No such unit."))
    if community is None and unit is None:
        raise CommunityError(
            _l("A venue belongs to a community or is offered by a unit."), "community"
        )
    # Names are unique within a community; venues no community owns, within their unit.
    taken = select(func.count(Venue.id)).where(Venue.name == name)
    if community is not None:
        taken = taken.where(Venue.community_id == community.id)
    else:
        taken = taken.where(Venue.community_id.is_(None), Venue.unit_id == unit.id)
    if venue is not None:
        taken = taken.where(Venue.id != venue.id)
    if db.session.scalar(taken):
        raise CommunityError(
            _l("There is already a venue called %(name)s there.", name=name), "name", status=409
        )
    return {
        "name": name,
        "kind": kind,
        "capacity": _capacity(data.get("capacity")),
        "address": _text(data.get("address"), "address", 255, required=False, label=_l("address")),
        "community_id": community.id if community else None,
        "unit_id": unit.id if unit else None,
    }


def create_venue(data: dict, user) -> Venue:
    """Create a venue from {name, kind, capacity?, address?, community_id?, unit_id?}."""
    venue = Venue(**_venue_values(data, None))
    db.session.add(venue)
    db.session.flush()
    audit.record("venue.create", venue, user, name=venue.name, kind=venue.kind)
    return venue


def update_venue(venue: Venue, data: dict, user) -> Venue:
    """Change a venue's name, kind, capacity, address or owner."""
    changed = _changes(venue, _venue_values(data, venue))
    db.session.flush()
    if changed:
        audit.record("venue.update", venue, user, **changed)
    return venue


# -- alliance units ---------------------------------------------------------------------


def _unit_values(data: dict, unit: Unit | None) -> dict:
    from consult.accounts.operations import valid_email

    name = _text(data.get("name"), "name", 200, label=_l("name"))
    kind = data.get("kind")
    if kind not in UnitKind:
        raise CommunityError(_l("Unknown kind of unit."), "kind")
    taken = select(func.count(Unit.id)).where(Unit.name == name)
    if unit is not None:
        taken = taken.where(Unit.id != unit.id)
    if db.session.scalar(taken):
        raise CommunityError(
            _l("A unit called %(name)s already exists.", name=name), "name", status=409
        )
    email = data.get("contact_email")
    if email is not None and email.strip():
        try:
            email = valid_email(email)
        except RefusedInput as exc:
            raise CommunityError(exc.message, "contact_email") from None
    else:
        email = None
    phone = _text(data.get("contact_phone"), "contact_phone", 32, required=False, label=_l("phone"))
    return {"name": name, "kind": kind, "contact_email": email, "contact_phone": phone}


def create_unit(data: dict, user) -> Unit:
    """Create an alliance unit from {name, kind, contact_email?, contact_phone?}."""
    unit = Unit(**_unit_values(data, None))
    db.session.add(unit)
    db.session.flush()
    audit.record("unit.create", unit, user, name=unit.name, kind=unit.kind)
    return unit


def update_unit(unit: Unit, data: dict, user) -> Unit:
    """Change a unit's name, kind or contacts."""
    changed = _changes(unit, _unit_values(data, unit))
    db.session.flush()
    if changed:
        audit.record("unit.update", unit, user, **changed)
    return unit


# -- the alliance of a community and its host rotation ---------------------------------


def _rotation(community_id: int) -> list[AllianceMember]:
    return list(
        db.session.scalars(
            select(AllianceMember)
            .where(
                AllianceMember.community_id == community_id,
                AllianceMember.rotation_position.is_not(None),
            )
            .order_by(AllianceMember.rotation_position)
        )
    )


def _renumber(members: list[AllianceMember]) -> None:
    """Give ``members`` the positions 1..n in list order, one row at a time.

    Each change is flushed on its own: the (community, position) pair is unique, and
    the databases check that row by row.
    """
    for member in members:
        if member.rotation_position is not None:
            member.rotation_position = None
            db.session.flush()
    for position, member in enumerate(members, start=1):
        member.rotation_position = position
        db.session.flush()


def add_alliance_member(community: Community, data: dict, user) -> AllianceMember:
    """Add a unit to a community's alliance: {unit_id, joined_on?, in_rotation?}."""
    unit = _exists(Unit, data.get("unit_id"), "unit", _l("No such unit."))
    if unit is None:
        raise CommunityError(_l("Choose a unit."), "unit")
    already = db.session.scalar(
        select(func.count(AllianceMember.id)).where(
            AllianceMember.community_id == community.id, AllianceMember.unit_id == unit.id
        )
    )
    if already:
        raise CommunityError(
            _l("%(unit)s is already in this alliance.", unit=unit.name), "unit", status=409
        )
    joined_on = data.get("joined_on")
    if joined_on is not None and not isinstance(joined_on, date):
        raise CommunityError(_l("Not a date."), "joined_on")
    position = None
    if data.get("in_rotation"):
        last = db.session.scalar(
            select(func.max(AllianceMember.rotation_position)).where(
                AllianceMember.community_id == community.id
            )
        )
        position = (last or 0) + 1
    member = AllianceMember(
        community_id=community.id,
        unit_id=unit.id,
        joined_on=joined_on,
        rotation_position=position,
    )
    db.session.add(member)
    db.session.flush()
    audit.record(
        "alliance.add",
        member,
        user,
        community=community.id,
        unit=unit.id,
        rotation_position=position,
    )
    return member


def move_alliance_member(member: AllianceMember, offset: int, user) -> AllianceMember:
    """Move a unit ``offset`` places earlier (negative) or later in the host rotation."""
    if member.rotation_position is None:
        raise CommunityError(_l("This unit is not in the host rotation."), "rotation")
    rotation = _rotation(member.community_id)
    old = rotation.index(member)
    new = min(max(old + offset, 0), len(rotation) - 1)
    if new != old:
        rotation.insert(new, rotation.pop(old))
        _renumber(rotation)
        audit.record("alliance.rotation", member, user, position=[old + 1, new + 1])
    return member


def set_alliance_rotation(member: AllianceMember, in_rotation: bool, user) -> AllianceMember:
    """Put a unit into the host rotation (last) or take it out (the others close up)."""
    rotation = _rotation(member.community_id)
    if in_rotation and member not in rotation:
        _renumber([*rotation, member])
    elif not in_rotation and member in rotation:
        rotation.remove(member)
        member.rotation_position = None
        db.session.flush()
        _renumber(rotation)
    else:
        return member
    audit.record("alliance.rotation", member, user, position=member.rotation_position)
    return member


def remove_alliance_member(member: AllianceMember, user) -> None:
    """Take a unit out of a community's alliance; the rotation closes up behind it."""
    community_id, unit_id = member.community_id, member.unit_id
    audit.record("alliance.remove", member, user, community=community_id, unit=unit_id)
    rotation = [m for m in _rotation(community_id) if m is not member]
    db.session.delete(member)
    db.session.flush()
    _renumber(rotation)


# -- joint-construction agreements ----------------------------------------------------


def _agreement_values(data: dict) -> dict:
    community = _exists(Community, data.get("community_id"), "community", _l("No such community."))
    if community is None:
        raise CommunityError(_l("Choose a community."), "community")
    unit = _exists(Unit, data.get("unit_id"), "unit", _l("No such unit."))
    if unit is None:
        raise CommunityError(_l("Choose a unit."), "unit")
    signed_on, ends_on = data.get("signed_on"), data.get("ends_on")
    if not isinstance(signed_on, date):
        raise CommunityError(_l("Give the date the agreement was signed."), "signed_on")
    if ends_on is not None and not isinstance(ends_on, date):
        raise CommunityError(_l("Not a date."), "ends_on")
    if ends_on is not None and ends_on < signed_on:
        raise CommunityError(_l("The agreement cannot end before it is signed."), "ends_on")
    commitments = _text(
        data.get("commitments"),
        "commitments",
        MAX_COMMITMENTS,
        required=False,
        label=_l("commitments"),
        multiline=True,
    )
    return {
        "community_id": community.id,
        "unit_id": unit.id,
        "signed_on": signed_on,
        "ends_on": ends_on,
        "commitments": commitments or "",
    }


def create_agreement(data: dict, user) -> Agreement:
    """Record a joint-construction agreement: {community_id, unit_id, signed_on, ...}."""
    agreement = Agreement(**_agreement_values(data))
    db.session.add(agreement)
    db.session.flush()
    audit.record(
        "agreement.create",
        agreement,
        user,
        community=agreement.community_id,
        unit=agreement.unit_id,
    )
    return agreement


def update_agreement(agreement: Agreement, data: dict, user) -> Agreement:
    """Change an agreement's parties, dates or commitments."""
    changed = _changes(agreement, _agreement_values(data))
    db.session.flush()
    if changed:
        audit.record("agreement.update", agreement, user, **changed)
    return agreement
