"""The journeys' harness: a browser tab that checks every page it reaches.

Each page reached through ``Tab.visit`` or ``Tab.after`` is checked for console errors,
failed requests, horizontal overflow, axe-core violations and, on a zh_CN page,
English interface text; a screenshot of it is saved under ``ARTIFACTS``.

Steps find their controls by stable attributes (``name=``, ``data-action=``...), not by
their wording, so that relabelled buttons do not break the journeys.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
#: Where screenshots go (gitignored); CONSULT_TEST_ARTIFACTS moves them.
ARTIFACTS = Path(os.environ.get("CONSULT_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"

WIDTHS = {"desktop": 1366, "phone": 390}
LOCALES = {"zh_CN": "zh-CN", "en": "en-US"}

#: Interface words that are the same in both languages, or names rather than text.
SAME_IN_BOTH = {"English", "CSV", "QR", "ICS", "Google Calendar"}


@cache
def english_interface_text() -> frozenset[str]:
    """Return the en catalog's messages that zh_CN translates into something else.

    Only plain messages (no placeholder) that contain a Latin word are kept: these are
    what a zh_CN page must never show.
    """

    def catalog(language):
        path = ROOT / f"consult/translations/{language}/LC_MESSAGES/messages.po"
        with path.open("rb") as f:
            return read_po(f, locale=language)

    zh = catalog("zh_CN")
    texts = set()
    for message in zh:
        if not message.id or isinstance(message.id, tuple) or not message.string:
            continue
        text = message.id.strip()
        if "%(" in text or "{" in text or message.string.strip() == text:
            continue
        if not re.search(r"[A-Za-z]{2,}", text) or text in SAME_IN_BOTH:
            continue
        texts.add(text)
    return frozenset(texts)


def english_on_page(lines: list[str]) -> list[str]:
    """Return the English interface texts found among a page's visible lines."""
    known = english_interface_text()
    found = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        if line in known or line.rstrip(":：.") in known:
            found.append(line)
            continue
        # Sentences of the interface inside a longer line.
        found += [t for t in known if len(t.split()) >= 3 and t in line]
    return found


@dataclass
class Problems:
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


class Tab:
    """One person's browser tab at one width and in one language."""

    def __init__(self, browser, base_url: str, journey: str, who: str, width: str, language: str):
        self.language = language
        self.width = WIDTHS[width]
        self.name = f"{journey}-{language}-{width}-{who}"
        self.context = browser.new_context(
            base_url=base_url,
            locale=LOCALES[language],
            viewport={"width": self.width, "height": 900},
            is_mobile=width == "phone",
            has_touch=width == "phone",
            accept_downloads=True,
        )
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.problems = Problems()
        self.steps = 0
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.console.append(str(error)))
        self.page.on("requestfailed", self._request_failed)
        self.page.on("response", self._response)

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.console.append(message.text)

    def _request_failed(self, request) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure and request.resource_type == "document":
            return  # a download (the .ics file) ends the navigation that asked for it
        self.problems.requests.append(f"{request.method} {request.url}: {failure}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.requests.append(f"{response.status} {response.url}")

    def close(self) -> None:
        self.context.close()

    # -- moving ------------------------------------------------------------------------

    def visit(self, path: str, step: str) -> None:
        """Open ``path`` and check the page."""
        self.page.goto(path)
        self.check(step)

    def after(self, action, step: str) -> None:
        """Run ``action`` (a click that loads a page) and check the page it leads to."""
        with self.page.expect_navigation():
            action()
        self.check(step)

    def submit(self, form_selector: str, step: str) -> None:
        """Submit the form with its own submit button, then check the page it leads to."""
        button = self.page.locator(f"{form_selector} [type=submit]").last
        self.after(button.click, step)

    def sign_in(self, email: str, password: str) -> None:
        self.visit("/login", "sign-in")
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        self.submit("form:has(input[name=password])", "signed-in")

    # -- checking ----------------------------------------------------------------------

    def check(self, step: str) -> None:
        """Fail on anything wrong with the page now shown; save its screenshot."""
        self.page.wait_for_load_state("load")
        self.steps += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(
            path=str(ARTIFACTS / f"{self.name}-{self.steps:02d}-{step}.png"), full_page=True
        )
        where = f"{self.name} at {step} ({self.page.url})"
        assert not self.problems.console, f"console errors {where}: {self.problems.console}"
        assert not self.problems.requests, f"failed requests {where}: {self.problems.requests}"
        overflow = self.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"horizontal overflow of {overflow}px {where}"
        violations = axe_violations(self.page)
        assert not violations, f"axe-core {where}: {violations}"
        if self.language == "zh_CN":
            lines = self.page.evaluate("document.body.innerText").splitlines()
            english = english_on_page(lines)
            assert not english, f"English on a zh_CN page {where}: {english}"


@cache
def _axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()


def axe_violations(page) -> list[str]:
    """Return axe-core's violations on the page: "rule: target, target" each."""
    results = _axe().run(page)
    return [
        f"{v['id']}: " + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in results.response["violations"]
    ]
