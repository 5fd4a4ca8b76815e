"""Builders of the accountability tests: state made through the real operations."""

from __future__ import annotations

from sqlalchemy import select

from consult.audit.models import AuditEntry
from consult.cases.models import Case, CaseEvent, Issue
from consult.cases.operations import create_case, create_issue
from consult.extensions import db
from consult.minutes.models import ActionItem, Resolution, resolution_cases
from consult.minutes.operations import add_agenda_item, create_resolution

ROLES = ("admin", "cadre", "secretary", "resident", "unit_rep")


def new_case(user, community="Hehe", category="concern", title="楼道堆放杂物", **extra):
    case = create_case(
        {"title": title, "community": community, "category": category, "description": "", **extra},
        user,
    )
    db.session.commit()
    return case


def new_issue(user, cases, community="Hehe", title="楼道治理"):
    issue = create_issue(
        {"title": title, "community": community, "cases": [c.id for c in cases]}, user
    )
    db.session.commit()
    return issue


def agenda_item(meeting, user, issue=None, title="议题"):
    item = add_agenda_item(meeting, {"title": title, "issue": getattr(issue, "id", None)}, user)
    db.session.commit()
    return item


def resolve(item, user, cases, outcome="resolved", text="由物业公司一周内清理", actions=()):
    resolution = create_resolution(
        item,
        {
            "text": text,
            "outcome": outcome,
            "closes_cases": [c.id for c in cases],
            "actions": list(actions),
        },
        user,
    )
    db.session.commit()
    return resolution


def snapshot() -> dict:
    """Every row that a resolution or evaluation may change, to compare before and after."""
    db.session.expire_all()
    return {
        "cases": sorted(
            db.session.execute(
                select(
                    Case.id,
                    Case.status,
                    Case.resolution_id,
                    Case.issue_id,
                    Case.level,
                    Case.resolved_at,
                )
            ).all()
        ),
        "issues": sorted(
            db.session.execute(
                select(Issue.id, Issue.status, Issue.resolution_id, Issue.evaluation_round)
            ).all()
        ),
        "events": db.session.scalar(select(db.func.count(CaseEvent.id))),
        "resolutions": db.session.scalar(select(db.func.count(Resolution.id))),
        "resolution_cases": db.session.execute(select(resolution_cases)).all(),
        "actions": db.session.scalar(select(db.func.count(ActionItem.id))),
        "audit": db.session.scalar(select(db.func.count(AuditEntry.id))),
    }


def audit_actions(obj) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(
                AuditEntry.object_type == type(obj).__tablename__, AuditEntry.object_id == obj.id
            )
            .order_by(AuditEntry.id)
        )
    )
