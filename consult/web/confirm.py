"""Destructive actions ask first: POST → a page saying what will happen and to whom →
POST again with ``confirmed=1``. Plain forms, so it works without JavaScript."""

from __future__ import annotations

from flask import render_template, request


def confirmed() -> bool:
    """Return whether the POST is the answer of a confirmation page."""
    return request.form.get("confirmed") == "1"


def confirmation_page(
    title: str,
    consequences: list[str],
    action_url: str,
    button: str,
    back_url: str,
    fields: dict | None = None,
):
    """Return the page asking to confirm ``title``; ``consequences`` say what happens and
    to whom; ``fields`` are posted again with the answer."""
    return render_template(
        "web/confirm.html",
        title=title,
        consequences=consequences,
        action_url=action_url,
        button=button,
        back_url=back_url,
        fields=fields or {},
    )
