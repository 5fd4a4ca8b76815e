"""Consult: consultation sessions, sign-ups, minutes and resolutions for a town."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, request
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader

from consult.config import cache_options, engine_options, load_config
from consult.extensions import cache, csrf, db, limiter, migrate, ping_after_idle

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent


def _data_folder(name: str) -> Path:
    """templates/ or migrations/: inside the installed package (a wheel carries them
    there), else beside it in the checkout."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else ROOT / name


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application."""
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(_data_folder("templates")),
    )
    # templates/macros/ was templates/_macros/ (a name message extraction skips): the old
    # name still loads, for templates written before the move.
    templates = _data_folder("templates")
    app.jinja_loader = ChoiceLoader(
        [
            FileSystemLoader(str(templates)),
            PrefixLoader({"_macros": FileSystemLoader(str(templates / "macros"))}),
        ]
    )
    app.config.from_mapping(load_config(Path(app.instance_path)))
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config))
    for key, value in cache_options(app.config).items():
        app.config.setdefault(key, value)
    if app.config.get("TRUSTED_PROXIES"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    from consult import models  # noqa: F401  (the whole schema, for Alembic)

    db.init_app(app)
    from consult.transactions import reads_without_transaction

    with app.app_context():
        ping_after_idle(db.engine)
        reads_without_transaction(db.engine)
    migrate.init_app(app, db, directory=str(_data_folder("migrations")))
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)
    app.before_request(_csrf_for_pages)
    limiter.init_app(app)
    cache.init_app(app)

    from consult.web.headers import init_headers

    init_headers(app)

    from consult.catalogs import compile_missing_catalogs
    from consult.i18n import init_i18n

    compile_missing_catalogs()
    init_i18n(app)

    from consult.accounts import init_login

    init_login(app)

    from consult.lists import IdConverter

    # Before the blueprints: their rules take the converters they find at registration.
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["id"] = IdConverter
    _register_blueprints(app)
    _register_cli(app)

    from consult import transactions

    transactions.install(app)

    from consult.mail import queue

    # MAIL_QUEUE=rq: a write that queues mail enqueues its delivery once committed.
    queue.install(app)

    from consult.errors import register_error_handlers

    register_error_handlers(app)
    return app


def _csrf_for_pages() -> None:
    # Pages use the session cookie and need CSRF tokens; the API uses Bearer tokens
    # (a cookie only ever reads there), so it has nothing to forge.
    if current_app.config["WTF_CSRF_ENABLED"] and not request.path.startswith("/api/"):
        csrf.protect()


def _register_blueprints(app: Flask) -> None:
    from consult.accounts.views import bp as accounts_bp
    from consult.admin.views import bp as admin_bp
    from consult.api import init_api
    from consult.attendance.views import bp as attendance_bp
    from consult.calendar.views import bp as calendar_bp
    from consult.cases.views import bp as cases_bp
    from consult.meetings.views import bp as meetings_bp
    from consult.minutes.views import bp as minutes_bp
    from consult.notices.views import bp as notices_bp
    from consult.public.views import bp as public_bp
    from consult.votes.views import bp as votes_bp
    from consult.web.views import bp as web_bp

    for blueprint in (
        web_bp,
        accounts_bp,
        admin_bp,
        meetings_bp,
        calendar_bp,
        attendance_bp,
        cases_bp,
        minutes_bp,
        votes_bp,
        notices_bp,
        public_bp,
    ):
        app.register_blueprint(blueprint)
    init_api(app)


def _register_cli(app: Flask) -> None:
    from consult.accounts.cli import tokens_cli, users_cli
    from consult.backup import backup_command
    from consult.cases.cli import cases_cli
    from consult.demo.cli import demo_cli
    from consult.mail.cli import mail_cli
    from consult.maintenance import analyse_command
    from consult.meetings.cli import sessions_cli
    from consult.notices.cli import channels_cli

    for command in (
        users_cli,
        tokens_cli,
        demo_cli,
        mail_cli,
        sessions_cli,
        cases_cli,
        channels_cli,
        backup_command,
        analyse_command,
    ):
        app.cli.add_command(command)
