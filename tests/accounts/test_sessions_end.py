"""Sign-out and password changes end every session and remember cookie of the account."""

from __future__ import annotations

import pytest

from consult.accounts.models import User
from consult.accounts.operations import AccountError, set_user_password
from consult.accounts.passwords import password_problem
from consult.extensions import db
from tests.conftest import csrf_token_from, login


def _sign_in(client, user, password="secret-pw", remember=False):
    page = client.get("/login")
    data = {
        "email": user.email,
        "password": password,
        "csrf_token": csrf_token_from(page.get_data(as_text=True)),
    }
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def _signed_in(client) -> bool:
    """Whether the client's cookies open one's account page."""
    return client.get("/me").status_code == 200


def _with_cookie(app, name: str, value: str):
    """A new browser that only has this one cookie (copied from another browser)."""
    other = app.test_client()
    other.set_cookie(name, value)
    return other


def _sign_out(client):
    page = client.get("/me")
    token = csrf_token_from(page.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def test_a_copied_session_cookie_stops_working_after_sign_out(app, client, factories):
    user = factories.make_user()
    _sign_in(client, user)
    copy = _with_cookie(app, "session", client.get_cookie("session").value)
    assert _signed_in(copy)
    _sign_out(client)
    assert not _signed_in(copy)
    assert not _signed_in(client)


def test_the_remember_cookie_alone_works_until_sign_out(app, client, factories):
    user = factories.make_user()
    _sign_in(client, user, remember=True)
    remember = client.get_cookie("remember_token").value
    # Another browser with only the remember cookie is signed in...
    assert _signed_in(_with_cookie(app, "remember_token", remember))
    _sign_out(client)
    # ...and no longer once the account signed out anywhere.
    assert not _signed_in(_with_cookie(app, "remember_token", remember))


def test_signing_out_ends_the_sessions_of_other_browsers(app, factories):
    user = factories.make_user()
    phone, desk = _sign_in(app.test_client(), user), _sign_in(app.test_client(), user)
    _sign_out(desk)
    assert not _signed_in(phone)


def test_an_administrators_reset_ends_every_session_and_remember_cookie(app, client, factories):
    user = factories.make_user()
    admin = factories.make_user("admin", community=None)
    _sign_in(client, user, remember=True)
    remember = client.get_cookie("remember_token").value
    set_user_password(db.session.get(User, user.id), "a-brand-new-secret", admin)
    db.session.commit()
    assert not _signed_in(client)
    assert not _signed_in(_with_cookie(app, "remember_token", remember))
    # The new password signs in.
    assert _signed_in(_sign_in(app.test_client(), user, "a-brand-new-secret"))


def test_the_reset_page_ends_the_sessions_too(app, client, factories, login_as):
    user = factories.make_user()
    victim_browser = _sign_in(app.test_client(), user)
    admin = factories.make_user("admin", community=None)
    login_as(admin)
    page = client.get(f"/admin/users/{user.id}")
    response = client.post(
        f"/admin/users/{user.id}/password",
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "password": "a-brand-new-secret",
            "confirm": "a-brand-new-secret",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert not _signed_in(victim_browser)


def _change(client, current, new, confirm=None):
    page = client.get("/me/password")
    assert page.status_code == 200
    return client.post(
        "/me/password",
        data={
            "csrf_token": csrf_token_from(page.get_data(as_text=True)),
            "current_password": current,
            "new_password": new,
            "confirm": new if confirm is None else confirm,
        },
    )


def test_changing_ones_password_keeps_this_browser_and_ends_the_others(app, client, factories):
    user = factories.make_user()
    other = _sign_in(app.test_client(), user, remember=True)
    remember = other.get_cookie("remember_token").value
    _sign_in(client, user)
    response = _change(client, "secret-pw", "tea-by-the-river-7")
    assert response.status_code == 302 and response.headers["Location"] == "/me"
    assert _signed_in(client)
    assert not _signed_in(other)
    assert not _signed_in(_with_cookie(app, "remember_token", remember))
    assert login(app.test_client(), user.email, "secret-pw").status_code == 200
    assert login(app.test_client(), user.email, "tea-by-the-river-7").status_code == 302


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong-one", "tea-by-the-river-7", None, "The current password is wrong."),
        ("secret-pw", "password123", None, "one of the most common"),
        ("secret-pw", "qwertyuiop", None, "one of the most common"),
        ("secret-pw", "12345678", None, "too easy to guess"),
        ("secret-pw", "aaaaaaaaaa", None, "too easy to guess"),
        ("secret-pw", "short", None, "at least 8 characters"),
        ("secret-pw", "tea-by-the-river-7", "tea-by-the-river-8", "The two new passwords differ."),
        ("secret-pw", "secret-pw", None, "must differ from the current one"),
    ],
)
def test_a_refused_change_says_why_and_changes_nothing(
    app, client, factories, current, new, confirm, message
):
    user = factories.make_user()
    _sign_in(client, user)
    response = _change(client, current, new, confirm)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert _signed_in(client)
    assert login(app.test_client(), user.email, "secret-pw").status_code == 302


def test_the_change_page_needs_a_signed_in_person(client):
    response = client.get("/me/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "Password1",
        "iloveyou",
        "123456789",
        "abcdefgh",
        "zzzzzzzz",
        "87654321",
        "dragon123",
    ],
)
def test_the_policy_refuses_common_and_trivial_passwords(password):
    assert password_problem(password) is not None


@pytest.mark.parametrize("password", ["secret-pw", "tea-by-the-river-7", "Hehe-社区-2026"])
def test_the_policy_accepts_other_passwords(password):
    assert password_problem(password) is None


def test_the_policy_refuses_ones_own_name_or_address(app):
    assert password_problem("wangfang-2026", email="wangfang@example.org") is not None
    assert password_problem("LiNa1990xyz", name="Li Na") is not None


def test_users_create_and_resets_apply_the_policy(app, factories):
    from consult.accounts.operations import create_user

    with pytest.raises(AccountError):
        create_user(
            {"email": "a@example.org", "name": "A", "role": "resident", "password": "password1"}
        )
    user = factories.make_user()
    with pytest.raises(AccountError):
        set_user_password(user, "letmein1", None)


def test_keep_me_signed_in_lasts_30_days(client, factories):
    from datetime import UTC, datetime, timedelta

    _sign_in(client, factories.make_user(), remember=True)
    cookie = client.get_cookie("remember_token")
    assert cookie.http_only
    lasts = cookie.expires - datetime.now(UTC)
    assert timedelta(days=29) < lasts <= timedelta(days=30)


def test_sign_out_clears_the_browsers_cache_of_the_site(client, factories):
    _sign_in(client, factories.make_user())
    page = client.get("/me")
    response = client.post(
        "/logout", data={"csrf_token": csrf_token_from(page.get_data(as_text=True))}
    )
    assert response.headers["Clear-Site-Data"] == '"cache"'
