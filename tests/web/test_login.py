"""Sign-in and sign-out through the real form."""

from __future__ import annotations

import pytest

from consult.extensions import db
from tests.conftest import csrf_token_from
from tests.web.helpers import html_of, text_of


def _form(client, url="/login"):
    page = client.get(url)
    assert page.status_code == 200
    return csrf_token_from(html_of(page))


def _signed_in_user_id(client):
    with client.session_transaction() as session:
        return session.get("_user_id")


def test_sign_in_page_has_the_contract_fields(client):
    html = html_of(client.get("/login"))
    assert 'name="email"' in html and 'type="email"' in html
    assert 'name="password"' in html and 'type="password"' in html
    assert 'name="remember"' in html and 'type="checkbox"' in html
    assert 'name="csrf_token"' in html and 'type="hidden"' in html


def test_good_credentials_sign_in_with_a_new_session(client, factories):
    user = factories.make_user("cadre")
    token = _form(client)
    with client.session_transaction() as session:
        session["planted"] = "by someone else"  # what a fixation attack would leave
    before = client.get_cookie("session").value
    response = client.post(
        "/login", data={"email": user.email, "password": "secret-pw", "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    after = client.get_cookie("session").value
    assert after != before
    with client.session_transaction() as session:
        assert session["_user_id"] == user.get_id()
        assert "planted" not in session
    assert client.get_cookie("remember_token") is None
    home = client.get("/")
    assert user.name in text_of(home)
    assert f"Welcome, {user.name}." in text_of(home)  # the flash message


def test_email_is_matched_whatever_its_case(client, factories):
    user = factories.make_user("resident", email="wang.fang@example.org")
    token = _form(client)
    response = client.post(
        "/login",
        data={"email": " Wang.Fang@Example.ORG ", "password": "secret-pw", "csrf_token": token},
    )
    assert response.status_code == 302
    assert _signed_in_user_id(client) == user.get_id()


def test_keep_me_signed_in_sets_the_remember_cookie(client, factories):
    user = factories.make_user("resident")
    token = _form(client)
    response = client.post(
        "/login",
        data={"email": user.email, "password": "secret-pw", "remember": "y", "csrf_token": token},
    )
    assert response.status_code == 302
    assert client.get_cookie("remember_token") is not None


@pytest.mark.parametrize("case", ["wrong password", "unknown email", "deactivated", "no password"])
def test_refused_sign_in_shows_one_message_and_no_session(client, factories, case):
    user = factories.make_user("resident", email="li.lei@example.org")
    email, password = user.email, "wrong-pw"
    if case == "unknown email":
        email, password = "nobody@example.org", "secret-pw"
    elif case == "deactivated":
        user.active = False
        db.session.commit()
        password = "secret-pw"
    elif case == "no password":
        user.password_hash = None
        db.session.commit()
        password = "secret-pw"
    token = _form(client)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 200
    html = html_of(response)
    assert "Wrong email or password." in text_of(response)
    assert "is-invalid" in html
    assert f'value="{email}"' in html  # the input is kept
    assert 'value="' + password + '"' not in html  # the password is not echoed back
    assert _signed_in_user_id(client) is None
    assert client.get_cookie("remember_token") is None


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"email": "", "password": "secret-pw"}, "email"),
        ({"email": "not-an-email", "password": "secret-pw"}, "email"),
        ({"email": "a@example.org", "password": ""}, "password"),
        ({"email": "a@example.org" + "x" * 300, "password": "secret-pw"}, "email"),
        ({"email": "a@example.org", "password": "p" * 201}, "password"),
    ],
)
def test_malformed_sign_in_is_refused_on_the_field(client, factories, data, field_error):
    token = _form(client)
    response = client.post("/login", data={**data, "csrf_token": token})
    assert response.status_code == 200
    html = html_of(response)
    assert f'class="form-control is-invalid" id="{field_error}"' in html
    assert _signed_in_user_id(client) is None


def test_sign_in_without_csrf_token_is_refused_with_400(client, factories):
    user = factories.make_user("cadre")
    client.get("/login")
    response = client.post("/login", data={"email": user.email, "password": "secret-pw"})
    assert response.status_code == 400
    assert _signed_in_user_id(client) is None


def test_sign_in_with_a_forged_csrf_token_is_refused_with_400(client, factories):
    user = factories.make_user("cadre")
    client.get("/login")
    response = client.post(
        "/login", data={"email": user.email, "password": "secret-pw", "csrf_token": "forged"}
    )
    assert response.status_code == 400
    assert _signed_in_user_id(client) is None


def test_next_leads_to_a_page_of_this_site(client, factories):
    user = factories.make_user("cadre")
    token = _form(client, "/login?next=/stats%3Fsource%3Dgrid")
    response = client.post(
        "/login?next=/stats%3Fsource%3Dgrid",
        data={"email": user.email, "password": "secret-pw", "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/stats?source=grid"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "https://evil.example/login",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_next_to_another_site_is_refused(client, factories, target):
    user = factories.make_user("cadre")
    token = _form(client)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"email": user.email, "password": "secret-pw", "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_signed_in_visit_to_login_goes_on(client, factories, login_as):
    login_as(factories.make_user("cadre"))
    response = client.get("/login?next=//evil.example")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_page_for_signed_in_users_sends_visitors_to_sign_in(client):
    response = client.get("/me")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_sign_out(client, factories, login_as):
    user = factories.make_user("resident")
    login_as(user)
    home = client.get("/?lang=en")
    token = csrf_token_from(html_of(home))
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert _signed_in_user_id(client) is None
    followed = client.get("/")
    assert "You are signed out." in text_of(followed)
    assert user.name not in text_of(followed)
    # The language chosen before signing out stays.
    with client.session_transaction() as session:
        assert session["lang"] == "en"


def test_sign_out_needs_post_and_a_csrf_token(client, factories, login_as):
    login_as(factories.make_user("resident"))
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert _signed_in_user_id(client) is not None


def test_sign_in_attempts_are_rate_limited(app_config, factories):
    from consult import create_app

    app_config.update(RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    app = create_app(app_config)
    client = app.test_client()
    with app.app_context():
        user = factories.make_user("resident")
        email = user.email
    responses = []
    for _ in range(4):
        token = _form(client)
        responses.append(
            client.post("/login", data={"email": email, "password": "wrong", "csrf_token": token})
        )
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert "Too many attempts" in text_of(responses[-1])
