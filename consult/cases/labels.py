"""Display names of the accountability vocabularies (statuses, outcomes, ratings)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LABELS: dict[str, dict] = {
    "case_status": {
        "open": _l("Open"),
        "resolved": _l("Resolved"),
        "closed": _l("Closed"),
        "reopened": _l("Reopened"),
    },
    "issue_status": {
        "open": _l("Open"),
        "resolved": _l("Resolved"),
        "closed": _l("Closed"),
        "reopened": _l("Reopened"),
    },
    "outcome": {
        "resolved": _l("Resolved"),
        "deferred": _l("Deferred"),
        "escalated": _l("Escalated"),
        "referred": _l("Referred to a unit"),
    },
    "rating": {
        "satisfied": _l("Satisfied"),
        "basically_satisfied": _l("Basically satisfied"),
        "unsatisfied": _l("Unsatisfied"),
    },
    "minutes_status": {
        "draft": _l("Draft"),
        "approved": _l("Approved"),
        "published": _l("Published"),
    },
    "action_status": {
        "open": _l("Open"),
        "done": _l("Done"),
        "cancelled": _l("Cancelled"),
    },
    "attendance": {
        "present": _l("Present"),
        "absent": _l("Absent"),
        "late": _l("Late"),
    },
    "vote_result": {
        "carried": _l("Carried"),
        "rejected": _l("Rejected"),
    },
    "vote_choice": {
        "for": _l("For"),
        "against": _l("Against"),
        "abstain": _l("Abstain"),
    },
    "quorum_base": {
        "expected": _l("Everyone invited or signed up"),
        "units": _l("The alliance units invited (one vote per unit)"),
        "none": _l("No presence quorum"),
    },
    "majority": {
        "simple": _l("Simple majority (more for than against)"),
        "two_thirds": _l("Two thirds of those voting for or against"),
        "unanimous": _l("Unanimous (no vote against)"),
    },
    "channel_kind": {
        "wecom": _l("WeCom group robot"),
        "dingtalk": _l("DingTalk custom robot"),
        "feishu": _l("Feishu custom bot"),
        "webhook": _l("JSON webhook"),
        "sms": _l("SMS gateway"),
    },
    "outbox_status": {
        "queued": _l("Queued"),
        "sending": _l("Sending"),
        "sent": _l("Sent"),
        "failed": _l("Failed"),
    },
    "outbox_transport": {
        "mail": _l("Mail"),
        "channel": _l("Channel notices"),
    },
    "event": {
        "created": _l("Opened"),
        "status": _l("Status"),
        "level": _l("Grid level"),
        "issue": _l("Issue"),
        "comment": _l("Comment"),
        "left_open": _l("Left open when its issue was resolved"),
    },
}

#: Bootstrap colours of statuses.
COLOURS = {
    "open": "primary",
    "reopened": "warning",
    "resolved": "success",
    "closed": "secondary",
    "draft": "secondary",
    "approved": "info",
    "published": "success",
    "done": "success",
    "cancelled": "secondary",
    "carried": "success",
    "rejected": "danger",
    "queued": "primary",
    "sending": "info",
    "sent": "success",
    "failed": "danger",
}


def case_label(value, vocabulary: str):
    """Return the display name of ``value``; other vocabularies go to consult.i18n."""
    if vocabulary in LABELS:
        return LABELS[vocabulary].get(str(value), value)
    from consult.i18n import label

    return label(value, vocabulary)


def status_colour(value) -> str:
    return COLOURS.get(str(value), "light")


def stored_text(message) -> str:
    """Return a (lazy) message as text to store in a record (a reason on a timeline, a
    title): in the writer's language in a request, else in DEFAULT_LANGUAGE, the town's
    language (commands, loaders and workers have no reader to ask)."""
    from flask import current_app, has_request_context
    from flask_babel import force_locale

    if has_request_context():
        return str(message)
    with force_locale(current_app.config["DEFAULT_LANGUAGE"]):
        return str(message)


def as_text(message) -> str:
    """Return a (lazy) message as text to show: in the request's language, or in the
    command line's language (BABEL_DEFAULT_LOCALE) where there is no request. Text kept
    in a record goes through ``stored_text``."""
    from flask import current_app, has_request_context
    from flask_babel import force_locale

    if has_request_context():
        return str(message)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        return str(message)
