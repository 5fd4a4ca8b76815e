"""Sign-in security: CSRF, scrypt hashes, a new session at sign-in, rate limit, inactive users."""

from __future__ import annotations

import pytest

from consult.extensions import db
from tests.conftest import csrf_token_from, login


def form_token(client) -> str:
    return csrf_token_from(client.get("/login").get_data(as_text=True))


def test_good_password_signs_in(client, factories):
    user = factories.make_user(email="wang@example.org")
    response = login(client, "wang@example.org")
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert session["_user_id"] == user.get_id()


def test_email_is_matched_whatever_its_case(client, factories):
    factories.make_user(email="wang@example.org")
    assert login(client, "WANG@Example.org").status_code == 302


def test_an_intranet_address_without_a_dot_signs_in(client, factories):
    # `users create` accepts town-intranet addresses such as chen@mail; so must sign-in.
    user = factories.make_user(email="chen@mail")
    response = login(client, "  chen@mail ")
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert session["_user_id"] == user.get_id()


@pytest.mark.parametrize(
    ("email", "password"),
    [("wang@example.org", "wrong-password"), ("nobody@example.org", "secret-pw")],
    ids=["wrong-password", "unknown-email"],
)
def test_bad_credentials_reshow_the_form_with_one_message(client, factories, email, password):
    factories.make_user(email="wang@example.org")
    response = login(client, email, password)
    assert response.status_code == 200
    assert "Wrong email or password." in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_a_post_without_csrf_token_is_refused_with_400(client, factories):
    factories.make_user(email="wang@example.org")
    response = client.post("/login", data={"email": "wang@example.org", "password": "secret-pw"})
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_passwords_are_stored_as_scrypt_hashes(factories):
    user = factories.make_user(password="correct horse")
    assert user.password_hash.startswith("scrypt:")
    assert "correct horse" not in user.password_hash
    assert user.check_password("correct horse")
    assert not user.check_password("correct horse ")


def test_the_session_is_renewed_at_sign_in(client, factories):
    factories.make_user(email="wang@example.org")
    token = form_token(client)
    with client.session_transaction() as session:
        # What an attacker could have planted in a session before the victim signs in.
        session["planted"] = "by someone else"
        session["lang"] = "zh_CN"
        before = dict(session)
    response = client.post(
        "/login", data={"email": "wang@example.org", "password": "secret-pw", "csrf_token": token}
    )
    assert response.status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") != before.get("csrf_token")
        # The language chosen before signing in is kept.
        assert session["lang"] == "zh_CN"


def test_a_deactivated_account_cannot_sign_in(client, factories):
    user = factories.make_user(email="wang@example.org")
    user.active = False
    db.session.commit()
    response = login(client, "wang@example.org")
    assert response.status_code == 200
    assert "Wrong email or password." in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_an_account_deactivated_while_signed_in_loses_its_session(client, factories, login_as):
    admin = factories.make_user(role="admin")
    login_as(admin)
    assert client.get("/admin/").status_code == 200
    admin.active = False
    db.session.commit()
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


class TestRateLimit:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "10 per minute"}

    def test_the_eleventh_failed_attempt_in_a_minute_gets_429(self, client, factories):
        factories.make_user(email="wang@example.org")
        token = form_token(client)
        data = {"email": "wang@example.org", "password": "guess", "csrf_token": token}
        statuses = [client.post("/login", data=data).status_code for _ in range(10)]
        assert statuses == [200] * 10
        assert client.post("/login", data=data).status_code == 429
        # Even the right password waits: the limit counts attempts, not failures.
        right = {**data, "password": "secret-pw"}
        assert client.post("/login", data=right).status_code == 429
        # Reading the form is not limited.
        assert client.get("/login").status_code == 200

    def test_the_limit_comes_from_the_configuration(self, app):
        assert app.config["LOGIN_RATE_LIMIT"] == "10 per minute"
