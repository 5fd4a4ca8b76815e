"""The password policy: long enough, not common, not trivial, not one's own name.

Common passwords are the 30,000 most frequent ones of leaked password lists, as shipped
with zxcvbn (its frequency list, compared case-insensitively).
"""

from __future__ import annotations

from functools import cache

from flask_babel import lazy_gettext as _l

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 200


@cache
def common_passwords() -> frozenset[str]:
    """Return the set of common passwords (lower-cased)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(word.lower() for word in FREQUENCY_LISTS["passwords"])


def _is_sequence(password: str) -> bool:
    """ "aaaaaaaa", "12345678", "abcdefgh", "98765432": one step repeated throughout."""
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:], strict=False)}
    return len(steps) == 1 and steps <= {-1, 0, 1}


def password_problem(password: str, email: str | None = None, name: str | None = None):
    """Return why ``password`` is refused (a lazy message), or None when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return _l("A password needs at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _l("A password has at most %(n)d characters.", n=MAX_PASSWORD_LENGTH)
    lowered = password.lower()
    if len(set(lowered)) < 3 or _is_sequence(lowered):
        return _l("This password is too easy to guess: choose one less regular.")
    if lowered in common_passwords() or lowered.rstrip("0123456789!.") in common_passwords():
        return _l("This password is one of the most common ones: choose another.")
    own = set()
    if email:
        own |= {email.lower(), email.lower().partition("@")[0]}
    if name:
        own.add("".join(name.lower().split()))
    if any(word and len(word) >= 4 and word in lowered for word in own):
        return _l("A password must not contain your name or email address.")
    return None
