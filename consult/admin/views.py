"""Administration: accounts, communities, venues, alliance units and agreements."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from consult.accounts.models import ApiToken, User
from consult.accounts.operations import (
    create_user,
    revoke_api_token,
    set_user_password,
    update_user,
)
from consult.admin import queries
from consult.admin.forms import (
    NONE,
    ROLE_LABELS,
    UNIT_KIND_LABELS,
    VENUE_KIND_LABELS,
    AgreementForm,
    AllianceMemberForm,
    CommunityForm,
    PasswordResetForm,
    UnitForm,
    UserCreateForm,
    UserEditForm,
    VenueForm,
)
from consult.community import queries as community_queries
from consult.community.models import Agreement, AllianceMember, Community, Unit, Venue
from consult.community.operations import (
    add_alliance_member,
    create_agreement,
    create_community,
    create_unit,
    create_venue,
    move_alliance_member,
    remove_alliance_member,
    set_alliance_rotation,
    update_agreement,
    update_community,
    update_unit,
    update_venue,
)
from consult.enums import Role, UnitKind
from consult.errors import RefusedInput, refuse_on
from consult.extensions import db
from consult.lists import id_arg, page_arg, paginate, search_arg
from consult.permissions import require
from consult.transactions import rollback

bp = Blueprint("admin", __name__, url_prefix="/admin")


#: Operation field names that the forms call otherwise.
FIELD_NAMES = {"unit_id": "unit", "community_id": "community"}


@bp.before_request
def admins_only():
    """Send anonymous visitors to sign in; refuse everyone but administrators."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    require(current_user, "admin.manage")
    return None


@bp.context_processor
def _labels():
    return {
        "role_labels": ROLE_LABELS,
        "venue_kind_labels": VENUE_KIND_LABELS,
        "unit_kind_labels": UNIT_KIND_LABELS,
    }


def _save(form, operation, *args):
    """Run a write (the request commits it); on a refusal, undo it and show it on its field.

    Returns the operation's result, or None when nothing was saved.
    """
    try:
        result = operation(*args)
        db.session.flush()
        return result if result is not None else True
    except RefusedInput as exc:
        if exc.field in FIELD_NAMES:
            exc.field = FIELD_NAMES[exc.field]
        refuse_on(form, exc)
    except IntegrityError:
        # Someone saved the same name at the same moment; the checks above missed it.
        rollback()
        form.form_errors.append(_("This conflicts with a change saved just now; try again."))
    return None


def _form_page(form, title, cancel_url, **context):
    return render_template(
        "admin/form.html", form=form, title=title, cancel_url=cancel_url, **context
    )


@bp.route("/")
def index():
    """Show what the administration manages, with links to each list."""
    return render_template("admin/index.html", counts=queries.overview())


# -- accounts -------------------------------------------------------------------------


@bp.route("/users")
def users():
    """List accounts, searchable by name or email and filtered by role."""
    search = search_arg()
    role = request.args.get("role") if request.args.get("role") in Role else None
    page = paginate(queries.users_query(search, role), page_arg())
    return render_template("admin/users.html", page=page, search=search, role=role, roles=Role)


def _membership_choices():
    return community_queries.community_choices(), community_queries.unit_choices()


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    """Create an account."""
    communities, units = _membership_choices()
    form = UserCreateForm(communities=communities, units=units)
    if form.validate_on_submit():
        user = _save(form, create_user, form.to_data(), current_user)
        if user:
            flash(_("Account %(email)s created.", email=user.email), "success")
            return redirect(url_for(".user_edit", user_id=user.id))
    return render_template("admin/user_new.html", form=form)


def _user_page(user, form, password_form):
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
    ).all()
    return render_template(
        "admin/user_edit.html", user=user, form=form, password_form=password_form, tokens=tokens
    )


def _user_edit_form(user, **kwargs) -> UserEditForm:
    communities, units = _membership_choices()
    # Values come as data, not obj: the model's relationships share the fields' names.
    return UserEditForm(
        communities=communities,
        units=units,
        data={
            "name": user.name,
            "role": user.role,
            "active": user.active,
            "phone": user.phone,
            "communities": [m.community_id for m in user.memberships],
            "representative_of": [m.community_id for m in user.memberships if m.is_representative],
            "unit": user.unit_id or NONE,
        },
        **kwargs,
    )


@bp.route("/users/<id:user_id>", methods=["GET", "POST"])
def user_edit(user_id):
    """Change an account's name, role, communities, unit or active flag."""
    user = db.get_or_404(User, user_id)
    form = _user_edit_form(user)
    if form.validate_on_submit():
        if _save(form, update_user, user, form.to_data(), current_user):
            flash(_("Account %(email)s saved.", email=user.email), "success")
            return redirect(url_for(".user_edit", user_id=user.id))
        user = db.get_or_404(User, user_id)
    return _user_page(user, form, PasswordResetForm(formdata=None))


@bp.route("/users/<id:user_id>/password", methods=["POST"])
def user_password(user_id):
    """Give an account a new password."""
    user = db.get_or_404(User, user_id)
    password_form = PasswordResetForm()
    if password_form.validate_on_submit():
        if _save(password_form, set_user_password, user, password_form.password.data, current_user):
            flash(_("The password of %(email)s is changed.", email=user.email), "success")
            return redirect(url_for(".user_edit", user_id=user.id))
        user = db.get_or_404(User, user_id)
    return _user_page(user, _user_edit_form(user, formdata=None), password_form)


@bp.route("/users/<id:user_id>/tokens/<id:token_id>/revoke", methods=["POST"])
def token_revoke(user_id, token_id):
    """Revoke one of an account's API tokens."""
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user_id)
    )
    if token is None:
        abort(404)
    revoke_api_token(token, current_user)
    flash(_("The API token is revoked."), "success")
    return redirect(url_for(".user_edit", user_id=user_id))


# -- communities and their alliances --------------------------------------------------


@bp.route("/communities")
def communities():
    """List communities with their venues, alliance units and agreements."""
    search = search_arg()
    page = paginate(community_queries.communities_query(search), page_arg())
    figures = community_queries.community_figures([c.id for c in page.items])
    return render_template("admin/communities.html", page=page, search=search, figures=figures)


@bp.route("/communities/new", methods=["GET", "POST"])
def community_new():
    """Create a community."""
    form = CommunityForm()
    if form.validate_on_submit():
        community = _save(form, create_community, form.to_data(), current_user)
        if community:
            flash(_("Community %(name)s created.", name=community.name), "success")
            return redirect(url_for(".communities"))
    return _form_page(form, _("New community"), url_for(".communities"))


@bp.route("/communities/<id:community_id>", methods=["GET", "POST"])
def community_edit(community_id):
    """Rename a community or change its brand."""
    community = db.get_or_404(Community, community_id)
    form = CommunityForm(obj=community)
    if form.validate_on_submit():
        if _save(form, update_community, community, form.to_data(), current_user):
            flash(_("Community %(name)s saved.", name=community.name), "success")
            return redirect(url_for(".communities"))
    return _form_page(form, _("Edit community"), url_for(".communities"))


@bp.route("/communities/<id:community_id>/alliance", methods=["GET", "POST"])
def alliance(community_id):
    """Show a community's alliance and host rotation; add a unit to it."""
    community = db.get_or_404(Community, community_id)
    form = AllianceMemberForm(units=community_queries.unit_choices(community.id))
    if form.validate_on_submit():
        if _save(form, add_alliance_member, community, form.to_data(), current_user):
            flash(_("The unit joined the alliance."), "success")
            return redirect(url_for(".alliance", community_id=community_id))
        community = db.get_or_404(Community, community_id)
    members = community_queries.alliance_members(community.id)
    return render_template("admin/alliance.html", community=community, members=members, form=form)


def _member(community_id: int, member_id: int) -> AllianceMember:
    member = db.session.scalar(
        select(AllianceMember).where(
            AllianceMember.id == member_id, AllianceMember.community_id == community_id
        )
    )
    if member is None:
        abort(404)
    return member


def _alliance_action(community_id: int, operation, *args):
    """Run an alliance change from a button and go back to the alliance page."""
    try:
        operation(*args)
    except RefusedInput as exc:
        rollback()
        flash(exc.message, "danger")
    return redirect(url_for(".alliance", community_id=community_id))


@bp.route("/communities/<id:community_id>/alliance/<id:member_id>/move", methods=["POST"])
def alliance_move(community_id, member_id):
    """Move a unit one place earlier or later in the host rotation."""
    member = _member(community_id, member_id)
    offset = {"up": -1, "down": 1}.get(request.form.get("direction"))
    if offset is None:
        abort(400)
    return _alliance_action(community_id, move_alliance_member, member, offset, current_user)


@bp.route("/communities/<id:community_id>/alliance/<id:member_id>/rotation", methods=["POST"])
def alliance_rotation(community_id, member_id):
    """Put a unit into the host rotation, or take it out."""
    member = _member(community_id, member_id)
    in_rotation = request.form.get("in_rotation") == "1"
    return _alliance_action(community_id, set_alliance_rotation, member, in_rotation, current_user)


@bp.route("/communities/<id:community_id>/alliance/<id:member_id>/remove", methods=["POST"])
def alliance_remove(community_id, member_id):
    """Take a unit out of the community's alliance."""
    member = _member(community_id, member_id)
    return _alliance_action(community_id, remove_alliance_member, member, current_user)


# -- venues ---------------------------------------------------------------------------


@bp.route("/venues")
def venues():
    """List venues, optionally of one community."""
    community_id = id_arg("community")
    search = search_arg()
    page = paginate(community_queries.venues_query(community_id, search), page_arg())
    return render_template(
        "admin/venues.html",
        page=page,
        search=search,
        community_id=community_id,
        communities=community_queries.community_choices(),
    )


def _venue_form(**kwargs) -> VenueForm:
    return VenueForm(
        communities=community_queries.community_choices(),
        units=community_queries.unit_choices(),
        **kwargs,
    )


@bp.route("/venues/new", methods=["GET", "POST"])
def venue_new():
    """Create a venue: a community's room, or one a unit offers."""
    form = _venue_form(community=id_arg("community") or NONE)
    if form.validate_on_submit():
        venue = _save(form, create_venue, form.to_data(), current_user)
        if venue:
            flash(_("Venue %(name)s created.", name=venue.name), "success")
            return redirect(url_for(".venues"))
    return _form_page(form, _("New venue"), url_for(".venues"))


@bp.route("/venues/<id:venue_id>", methods=["GET", "POST"])
def venue_edit(venue_id):
    """Change a venue's name, kind, capacity, address or owner."""
    venue = db.get_or_404(Venue, venue_id)
    form = _venue_form(
        data={
            "name": venue.name,
            "kind": venue.kind,
            "capacity": venue.capacity,
            "address": venue.address,
            "community": venue.community_id or NONE,
            "unit": venue.unit_id or NONE,
        }
    )
    if form.validate_on_submit():
        if _save(form, update_venue, venue, form.to_data(), current_user):
            flash(_("Venue %(name)s saved.", name=venue.name), "success")
            return redirect(url_for(".venues"))
    return _form_page(form, _("Edit venue"), url_for(".venues"))


# -- alliance units -------------------------------------------------------------------


@bp.route("/units")
def units():
    """List alliance units, searchable by name and filtered by kind."""
    search = search_arg()
    kind = request.args.get("kind") if request.args.get("kind") in UnitKind else None
    page = paginate(community_queries.units_query(search, kind), page_arg())
    alliances = community_queries.unit_alliances([u.id for u in page.items])
    return render_template(
        "admin/units.html",
        page=page,
        search=search,
        kind=kind,
        kinds=UnitKind,
        alliances=alliances,
    )


@bp.route("/units/new", methods=["GET", "POST"])
def unit_new():
    """Create an alliance unit."""
    form = UnitForm()
    if form.validate_on_submit():
        unit = _save(form, create_unit, form.to_data(), current_user)
        if unit:
            flash(_("Unit %(name)s created.", name=unit.name), "success")
            return redirect(url_for(".units"))
    return _form_page(form, _("New unit"), url_for(".units"))


@bp.route("/units/<id:unit_id>", methods=["GET", "POST"])
def unit_edit(unit_id):
    """Change a unit's name, kind or contacts."""
    unit = db.get_or_404(Unit, unit_id)
    form = UnitForm(obj=unit)
    if form.validate_on_submit():
        if _save(form, update_unit, unit, form.to_data(), current_user):
            flash(_("Unit %(name)s saved.", name=unit.name), "success")
            return redirect(url_for(".units"))
    alliances = community_queries.unit_alliances([unit_id])[unit_id]
    return _form_page(form, _("Edit unit"), url_for(".units"), alliances=alliances)


# -- joint-construction agreements ---------------------------------------------------


@bp.route("/agreements")
def agreements():
    """List joint-construction agreements, optionally of one community or unit."""
    community_id, unit_id = id_arg("community"), id_arg("unit")
    page = paginate(community_queries.agreements_query(community_id, unit_id), page_arg())
    return render_template(
        "admin/agreements.html",
        page=page,
        community_id=community_id,
        communities=community_queries.community_choices(),
    )


def _agreement_form(**kwargs) -> AgreementForm:
    return AgreementForm(
        communities=community_queries.community_choices(),
        units=community_queries.unit_choices(),
        **kwargs,
    )


@bp.route("/agreements/new", methods=["GET", "POST"])
def agreement_new():
    """Record a joint-construction agreement."""
    form = _agreement_form()
    if form.validate_on_submit():
        if _save(form, create_agreement, form.to_data(), current_user):
            flash(_("The agreement is recorded."), "success")
            return redirect(url_for(".agreements"))
    return _form_page(form, _("New agreement"), url_for(".agreements"))


@bp.route("/agreements/<id:agreement_id>", methods=["GET", "POST"])
def agreement_edit(agreement_id):
    """Change an agreement's parties, dates or commitments."""
    agreement = db.get_or_404(Agreement, agreement_id)
    form = _agreement_form(
        data={
            "community": agreement.community_id,
            "unit": agreement.unit_id,
            "signed_on": agreement.signed_on,
            "ends_on": agreement.ends_on,
            "commitments": agreement.commitments,
        }
    )
    if form.validate_on_submit():
        if _save(form, update_agreement, agreement, form.to_data(), current_user):
            flash(_("The agreement is saved."), "success")
            return redirect(url_for(".agreements"))
    return _form_page(form, _("Edit agreement"), url_for(".agreements"))


#: The lists of the administration (endpoint, title, endpoints that belong to it).
SECTIONS = (
    ("admin.users", _l("Accounts"), ("admin.user", "admin.token")),
    ("admin.communities", _l("Communities"), ("admin.communit", "admin.alliance")),
    ("admin.venues", _l("Venues"), ("admin.venue",)),
    ("admin.units", _l("Alliance units"), ("admin.unit",)),
    ("admin.agreements", _l("Agreements"), ("admin.agreement",)),
    ("notices.channels", _l("Channels"), ("notices.channel",)),
    ("notices.outbox", _l("Outbox"), ("notices.outbox",)),
)


@bp.app_template_global("admin_sections")
def admin_sections():
    """Return the administration's sections for its navigation."""
    return SECTIONS
