def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_each_test_starts_with_empty_tables(app, factories):
    from sqlalchemy import func, select

    from consult.accounts.models import User
    from consult.extensions import db

    assert db.session.scalar(select(func.count(User.id))) == 0
    factories.make_user()
    assert db.session.scalar(select(func.count(User.id))) == 1
