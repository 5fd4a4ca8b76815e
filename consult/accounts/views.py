"""Sign-in, sign-out and one's own account."""

from __future__ import annotations

from functools import cache
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from consult.accounts.forms import LanguageForm, LoginForm, PasswordChangeForm
from consult.accounts.models import Membership, User
from consult.accounts.operations import (
    AccountError,
    change_own_password,
    end_sessions,
    normalise_email,
    update_profile,
)
from consult.community.models import Community
from consult.errors import refuse_on
from consult.extensions import db, limiter

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path on this site, else the home page.

    Browsers read "//host", "/\\host" and paths with tabs or line breaks in them as
    another site, so only a plain "/path" is followed.
    """
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and all(ch > " " and ch != "\x7f" for ch in target)
    ):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("web.index")


@cache
def _decoy_hash() -> str:
    """A password hash to check against when the email is unknown (same time as a miss)."""
    return generate_password_hash("no account has this password", method="scrypt")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _account_limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]


def _account_key() -> str:
    """The account a sign-in attempt is for (its email as the form gave it)."""
    return "account:" + normalise_email(request.form.get("email", ""))[:254]


def _failed_sign_in(response) -> bool:
    # A refused attempt shows the form again (200); a successful one redirects.
    return request.method == "POST" and response.status_code == 200


def _renew_session() -> None:
    """Start a new session, keeping only the chosen language (no fixation)."""
    lang = session.get("lang")
    session.clear()
    # The CSRF token cached for this request belonged to the old session.
    g.pop(current_app.config["WTF_CSRF_FIELD_NAME"], None)
    if lang:
        session["lang"] = lang


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], scope="login-address")
# Besides the limit per address (which many people behind one proxy share), failed
# attempts on one account are limited wherever they come from.
@limiter.limit(
    _account_limit,
    methods=["POST"],
    key_func=_account_key,
    deduct_when=_failed_sign_in,
    scope="login-account",
)
def login():
    """Show the sign-in form and sign the person in."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.email == normalise_email(form.email.data)))
        if user is None or not user.password_hash:
            check_password_hash(_decoy_hash(), form.password.data)
        elif user.check_password(form.password.data) and user.active:
            _renew_session()
            login_user(user, remember=form.remember.data)
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            return redirect(_safe_next(request.args.get("next")))
        # One message for an unknown email, a wrong password and a closed account.
        form.password.errors.append(_("Wrong email or password."))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out, here and in every other browser signed in to this account."""
    end_sessions(current_user._get_current_object())
    logout_user()
    _renew_session()
    flash(_("You are signed out."), "info")
    response = redirect(url_for("web.index"))
    # What the browser cached of the signed-in pages goes too.
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


@bp.route("/me", methods=["GET", "POST"])
@login_required
def profile():
    """Show one's account and change its interface language."""
    user = current_user._get_current_object()
    form = LanguageForm(locale=user.locale or "")
    if form.validate_on_submit():
        try:
            update_profile(user, {"locale": form.locale.data or None}, user)
        except AccountError as exc:
            refuse_on(form, exc, default="locale")
        else:
            # The account's choice now wins over a language picked earlier with ?lang=.
            session.pop("lang", None)
            refresh()
            flash(_("Your preferences are saved."), "success")
            return redirect(url_for("accounts.profile"))
    communities = db.session.execute(
        select(Community.name, Community.brand, Membership.is_representative)
        .join(Membership, Membership.community_id == Community.id)
        .where(Membership.user_id == user.id)
        .order_by(Community.name)
    ).all()
    return render_template("accounts/profile.html", user=user, form=form, communities=communities)


@bp.route("/me/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password; every other session of the account ends."""
    user = current_user._get_current_object()
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            change_own_password(user, form.current_password.data, form.new_password.data)
        except AccountError as exc:
            refuse_on(form, exc, default="new_password")
        else:
            # This browser stays signed in, under the account's new generation.
            _renew_session()
            login_user(user)
            flash(_("Your password is changed; every other sign-in has ended."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/password.html", form=form)
