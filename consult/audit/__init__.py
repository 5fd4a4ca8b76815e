"""Record state changes in the audit log."""

from __future__ import annotations

from consult.audit.models import AuditEntry
from consult.extensions import db


def record(action: str, obj, actor=None, **data) -> AuditEntry:
    """Add an audit entry for ``obj`` (flushed with the caller's transaction)."""
    entry = AuditEntry(
        action=action,
        object_type=type(obj).__tablename__,
        object_id=obj.id,
        actor_id=getattr(actor, "id", None),
        data=data,
    )
    db.session.add(entry)
    return entry
