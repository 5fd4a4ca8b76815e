"""The demo town, loaded once per module for tests that only read it."""

from __future__ import annotations

import pytest

from tests.conftest import application_for, empty_all_tables, test_config


@pytest.fixture(scope="module")
def demo_town(database_url):
    """Load the demo town for real (committed), once; give the command's result.

    Each test still runs in its own rolled-back transaction on top of it, so what a
    test changes is undone; the tables are emptied when the module is done.
    """
    application = application_for(test_config(database_url))
    with application.app_context():
        result = application.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    yield result
    empty_all_tables(application)
