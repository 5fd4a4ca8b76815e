"""Record state changes in the audit log."""

from __future__ import annotations

from sqlalchemy import insert

from consult.audit.models import AuditEntry
from consult.extensions import db, table_of

#: The INSERT of an entry, built once (the ORM's unit of work would cost more than the
#: row: an entry is written, never read back in the transaction that writes it).
_INSERT = insert(table_of(AuditEntry))


def record(action: str, obj, actor=None, **data) -> None:
    """Write an audit entry for ``obj`` (flushed already) in the caller's transaction."""
    db.session.execute(
        _INSERT,
        {
            "action": action,
            "object_type": type(obj).__tablename__,
            "object_id": obj.id,
            "actor_id": getattr(actor, "id", None),
            "data": data,
        },
    )
