"""Open data from the public records: CSV rows and an Atom feed (README: "Open data")."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from feedgen.feed import FeedGenerator

from consult.enums import CaseLevel

#: The CSV's columns: one row per case a resolution closed (a resolution that closed
#: none has one row with the case columns empty).
CSV_COLUMNS = (
    "resolution_id",
    "published_at",
    "session_id",
    "session_title",
    "session_kind",
    "session_starts_at",
    "session_url",
    "agenda_position",
    "agenda_title",
    "issue_id",
    "issue_title",
    "issue_status",
    "outcome",
    "text",
    "referred_unit",
    "case_id",
    "case_category",
    "case_title",
    "case_reporter",
    "case_level",
    "case_status",
    *(f"case_days_level_{level}" for level in CaseLevel),
    "evaluation_round",
    "evaluation_satisfied",
    "evaluation_basically_satisfied",
    "evaluation_unsatisfied",
    "evaluation_result",
    "actions_total",
    "actions_done",
    "actions",
)


def _action_line(action: dict) -> str:
    who = action["unit"] or action["assignee"] or ""
    parts = [action["description"], who, action["due_on"] or "", action["status"]]
    return " / ".join(p for p in parts if p)


def csv_rows(records: list[dict]):
    """Yield the CSV's rows (dicts keyed by CSV_COLUMNS) for ``records``."""
    for record in records:
        evaluation = record["evaluation"] or {}
        issue = record["issue"] or {}
        base = {
            "resolution_id": record["id"],
            "published_at": record["published_at"],
            "session_id": record["session"]["id"],
            "session_title": record["session"]["title"],
            "session_kind": record["session"]["kind"],
            "session_starts_at": record["session"]["starts_at"],
            "session_url": record["session"]["url"],
            "agenda_position": record["agenda_item"]["position"],
            "agenda_title": record["agenda_item"]["title"],
            "issue_id": issue.get("id"),
            "issue_title": issue.get("title"),
            "issue_status": issue.get("status"),
            "outcome": record["outcome"],
            "text": record["text"],
            "referred_unit": record["referred_unit"],
            "evaluation_round": evaluation.get("round"),
            "evaluation_satisfied": evaluation.get("satisfied"),
            "evaluation_basically_satisfied": evaluation.get("basically_satisfied"),
            "evaluation_unsatisfied": evaluation.get("unsatisfied"),
            "evaluation_result": evaluation.get("result"),
            "actions_total": len(record["actions"]),
            "actions_done": sum(1 for a in record["actions"] if a["status"] == "done"),
            "actions": "; ".join(_action_line(a) for a in record["actions"]),
        }
        for case in record["cases"] or [None]:
            row = dict(base)
            if case is not None:
                row.update(
                    {
                        "case_id": case["id"],
                        "case_category": case["category"],
                        "case_title": case["title"],
                        "case_reporter": case["reporter"],
                        "case_level": case["level"],
                        "case_status": case["status"],
                        **{
                            f"case_days_level_{level}": case["days_at_level"].get(str(level))
                            for level in CaseLevel
                        },
                    }
                )
            yield row


def to_csv(records: list[dict]) -> str:
    """Return the records as CSV text (RFC 4180: CRLF line ends, quoted where needed)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in csv_rows(records):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def to_atom(
    records: list[dict],
    *,
    feed_id: str,
    title: str,
    subtitle: str,
    page_url: str,
    self_url: str,
    language: str,
    entry_title,
    entry_summary,
    updated: datetime | None,
) -> bytes:
    """Return an Atom feed (RFC 4287) with one entry per record, newest first.

    ``entry_title(record)`` and ``entry_summary(record)`` give each entry's texts in the
    request's language.
    """
    feed = FeedGenerator()
    feed.id(feed_id)
    feed.title(title)
    feed.subtitle(subtitle)
    feed.link(href=page_url, rel="alternate")
    feed.link(href=self_url, rel="self")
    feed.language(language)
    if updated is not None:
        feed.updated(updated)
    # feedgen writes entries in the reverse order of adding them.
    for record in reversed(records):
        entry = feed.add_entry()
        entry.id(f"{page_url}#resolution-{record['id']}")
        entry.title(entry_title(record))
        entry.link(href=f"{page_url}#resolution-{record['id']}", rel="alternate")
        entry.published(record["published_at"])
        entry.updated(record["published_at"])
        entry.summary(entry_summary(record))
        for case in record["cases"]:
            entry.category(term=case["category"])
    return feed.atom_str(pretty=True)
