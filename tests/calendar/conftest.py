"""Calendar tests read invitations from a real SMTP server."""

from __future__ import annotations
