"""The built package serves Chinese: a wheel carries the compiled catalogs, templates and
migrations, and works installed into a fresh virtualenv (no network: dependencies come
from the test environment's own site-packages)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (
    "consult",
    "templates",
    "migrations",
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "babel.cfg",
    "wsgi.py",
)

SERVE = """
import sys, consult
from consult import create_app
assert consult.__file__.startswith(sys.prefix), consult.__file__
app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[1], "SECRET_KEY": "k"})
with app.app_context():
    from flask_migrate import upgrade
    upgrade()
page = app.test_client().get("/login?lang=zh_CN")
print(page.status_code)
print(page.get_data(as_text=True))
"""


def _run(*args, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Build the wheel from a copy of the sources that holds no compiled catalog."""
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("*.mo", "__pycache__", "*.pyc")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    assert not list(source.rglob("*.mo"))
    dist = tmp_path_factory.mktemp("dist")
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "-q",
        "-w",
        str(dist),
        str(source),
    )
    (built,) = dist.glob("consult-*.whl")
    return built


def test_the_wheel_carries_catalogs_templates_and_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "consult/translations/zh_CN/LC_MESSAGES/messages.mo",
        "consult/translations/en/LC_MESSAGES/messages.mo",
        "consult/templates/base.html",
        "consult/templates/accounts/login.html",
        "consult/migrations/env.py",
        "consult/migrations/versions/0002_hardening.py",
        "consult/static/consult.js",
        "consult/static/vendor/bootstrap/bootstrap.min.css",
    ):
        assert required in names, required


def test_the_installed_wheel_serves_chinese(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", str(venv))
    python = venv / "bin" / "python"
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(python),
        "install",
        "--no-deps",
        "--no-index",
        "-q",
        str(wheel),
    )
    # The dependencies: this environment's site-packages, after the venv's own (a path
    # line in a .pth file adds the folder, not the editable checkout it may point to).
    site = Path(
        _run(
            str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"
        ).stdout.strip()
    )
    (site / "shared-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    done = _run(str(python), "-c", SERVE, str(tmp_path / "consult.db"), cwd=workdir, env=env)
    status, _, html = done.stdout.partition("\n")
    assert status == "200"
    assert '<html lang="zh-CN">' in html
    assert "登录" in html and "密码" in html


def test_a_checkout_compiles_missing_catalogs_at_start_up(tmp_path):
    from babel.messages.mofile import read_mo

    from consult.catalogs import TRANSLATIONS, compile_missing_catalogs

    folder = tmp_path / "translations"
    shutil.copytree(TRANSLATIONS, folder, ignore=shutil.ignore_patterns("*.mo"))
    compiled = compile_missing_catalogs(folder)
    mo = folder / "zh_CN" / "LC_MESSAGES" / "messages.mo"
    assert mo in compiled
    with mo.open("rb") as fh:
        assert read_mo(fh).get("Sign in").string == "登录"
    # Up to date: nothing to do the next time.
    assert compile_missing_catalogs(folder) == []
