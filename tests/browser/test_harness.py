"""The browser harness itself: a missing chromium skips locally and fails in CI."""

from __future__ import annotations

import urllib.request

import pytest

from tests.browser_fixtures import require_chromium


def test_missing_chromium_skips_outside_ci(monkeypatch, tmp_path):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require_chromium(tmp_path / "chromium")


def test_missing_chromium_fails_in_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        require_chromium(tmp_path / "chromium")


def test_present_chromium_passes(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "1")
    binary = tmp_path / "chromium"
    binary.write_text("")
    require_chromium(binary)


def test_live_server_serves_the_test_database(live_server, factories):
    factories.make_meeting(factories.make_community("Hehe"), title="和合圆桌会")
    assert live_server.url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(live_server.url_for("/"), timeout=10) as response:  # noqa: S310
        assert response.status == 200
        assert "和合圆桌会" in response.read().decode()
