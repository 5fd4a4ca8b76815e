"""Mail caused by changes to sessions and sign-ups, queued in the outbox.

Each function is called by an operation, inside its transaction, after the change is
flushed; it only adds OutboxMessage rows (delivery is `flask mail send`).
"""

from __future__ import annotations


def meeting_changed(meeting, actor, changes: set[str]) -> None:
    """Queue updated invitations (METHOD:REQUEST, same UID, higher SEQUENCE) to everyone
    invited to or registered for ``meeting``; ``changes`` names what changed
    (e.g. {"starts_at", "venue"})."""


def meeting_cancelled(meeting, actor) -> None:
    """Queue METHOD:CANCEL (STATUS:CANCELLED; RECURRENCE-ID for one occurrence of a
    series) to everyone invited to or registered for ``meeting``."""


def series_cancelled(series, actor) -> None:
    """Queue METHOD:CANCEL for a whole series to everyone invited or registered."""


def registration_confirmed(registration) -> None:
    """Queue the sign-up confirmation (with the .ics and the check-in QR code)."""


def registration_promoted(registration) -> None:
    """Queue the mail telling a waitlisted person that they now have a place."""
