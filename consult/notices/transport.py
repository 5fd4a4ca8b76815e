"""The robots' payloads and signatures, and the HTTP request that posts them.

- WeCom group robot: ``{"msgtype": "markdown", "markdown": {"content": ...}}`` (at most
  4096 bytes of UTF-8), to the robot's address (its ``key`` is in the query).
- DingTalk custom robot: ``{"msgtype": "markdown", "markdown": {"title", "text"}}``;
  with a secret ("加签"), ``timestamp`` (milliseconds) and ``sign`` query parameters:
  Base64 of HMAC-SHA256 keyed with the secret over ``timestamp + "\\n" + secret``,
  URL-encoded.
- Feishu custom bot: ``{"msg_type": "interactive", "card": {...}}`` (a card with a
  ``lark_md`` text); with a secret, ``timestamp`` (seconds) and ``sign`` in the body:
  Base64 of HMAC-SHA256 keyed with ``timestamp + "\\n" + secret`` over an empty message.
- A JSON webhook receives the notice itself; an SMS gateway ``{"phone", "message"}``.
  With a secret both carry ``X-Consult-Timestamp`` and ``X-Consult-Signature``
  (hex HMAC-SHA256 keyed with the secret over ``timestamp + "." + body``).

Failures are described without the address or the secret (both give access to the
group): only the channel's masked address, the status and the robot's error code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

from consult.enums import ChannelKind
from consult.notices.models import Channel, mask_url

#: WeCom refuses Markdown content longer than this (bytes of UTF-8).
WECOM_MAX_BYTES = 4096
#: Feishu refuses request bodies larger than 20 KB; DingTalk has a similar limit.
MAX_BODY_BYTES = 19_000
#: Bytes of an answer read to find the robot's error code.
MAX_ANSWER_BYTES = 65_536


class NoticeFailed(RuntimeError):
    """The channel did not take the notice (the message says why, without secrets)."""


@dataclass(frozen=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Return DingTalk's ``sign`` (URL-encoded) for ``timestamp_ms``."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Return Feishu's ``sign`` for ``timestamp_s``."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def webhook_signature(secret: str, timestamp_s: int, body: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``timestamp + "." + body`` keyed with ``secret``."""
    return hmac.new(secret.encode(), f"{timestamp_s}.".encode() + body, hashlib.sha256).hexdigest()


def _cut(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` bytes of UTF-8, at a character boundary."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode(errors="ignore") + "…"


def _json(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode()


def build_request(
    channel: Channel, notice: dict, recipients: str = "", now: float | None = None
) -> Request:
    """Return the HTTP request that posts ``notice`` (a stored Notice) to ``channel``."""
    now = time.time() if now is None else now
    title = notice.get("title", "")
    lines = list(notice.get("lines") or [])
    headers = {"Content-Type": "application/json; charset=utf-8"}
    url = channel.url
    if channel.kind == ChannelKind.WECOM:
        text = _cut("\n".join([f"### {title}", *lines]), WECOM_MAX_BYTES)
        body = _json({"msgtype": "markdown", "markdown": {"content": text}})
    elif channel.kind == ChannelKind.DINGTALK:
        # DingTalk's Markdown needs a blank line to break a line.
        text = _cut("\n\n".join([f"### {title}", *lines]), MAX_BODY_BYTES)
        body = _json({"msgtype": "markdown", "markdown": {"title": title, "text": text}})
        if channel.secret:
            stamp = int(now * 1000)
            joiner = "&" if urlsplit(url).query else "?"
            url = f"{url}{joiner}timestamp={stamp}&sign={dingtalk_sign(channel.secret, stamp)}"
    elif channel.kind == ChannelKind.FEISHU:
        payload: dict = {}
        if channel.secret:
            stamp = int(now)
            payload = {"timestamp": str(stamp), "sign": feishu_sign(channel.secret, stamp)}
        payload["msg_type"] = "interactive"
        payload["card"] = {
            "config": {"wide_screen_mode": True},
            "header": {
                "title": {"tag": "plain_text", "content": title},
                "template": "red" if "cancelled" in notice.get("event", "") else "blue",
            },
            # lark_md has no block quotes: quoted lines become bullets.
            "elements": [
                {
                    "tag": "div",
                    "text": {
                        "tag": "lark_md",
                        "content": _cut(
                            "\n".join(
                                "• " + line[2:] if line.startswith("> ") else line for line in lines
                            ),
                            MAX_BODY_BYTES - 2000,
                        ),
                    },
                }
            ],
        }
        body = _json(payload)
    elif channel.kind == ChannelKind.SMS:
        body = _json({"phone": recipients, "message": notice.get("text") or title})
    else:
        body = _json(
            {
                "event": notice.get("event"),
                "title": title,
                "markdown": "\n".join(lines),
                "text": notice.get("text", ""),
                "url": notice.get("url", ""),
                "session": notice.get("session"),
                "community": notice.get("community"),
            }
        )
    if channel.kind in ("webhook", "sms") and channel.secret:
        stamp = int(now)
        headers["X-Consult-Timestamp"] = str(stamp)
        headers["X-Consult-Signature"] = "sha256=" + webhook_signature(channel.secret, stamp, body)
    return Request(url, body, headers)


def _robot_error(answer: bytes) -> str | None:
    """Return the robot's refusal in an HTTP 200 answer (errcode / code not 0), if any."""
    try:
        data = json.loads(answer.decode("utf-8", errors="replace") or "null")
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for code_key, message_key in (
        ("errcode", "errmsg"),
        ("code", "msg"),
        ("StatusCode", "StatusMessage"),
    ):
        code = data.get(code_key)
        if isinstance(code, int) and not isinstance(code, bool) and code != 0:
            return f"{code_key} {code}: {str(data.get(message_key, ''))[:200]}"
    return None


def send(channel: Channel, request: Request, timeout: float) -> None:
    """POST ``request``; raise NoticeFailed unless the channel took it."""
    where = mask_url(channel.url)
    if urlsplit(request.url).scheme not in ("http", "https"):
        raise NoticeFailed(f"{where}: not an http(s) address")
    http_request = urllib.request.Request(  # noqa: S310  (http(s) only, checked above)
        request.url, data=request.body, headers=request.headers, method="POST"
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as answer:  # noqa: S310
            data = answer.read(MAX_ANSWER_BYTES)
    except urllib.error.HTTPError as exc:
        raise NoticeFailed(f"{where}: HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        text = type(reason).__name__ if not isinstance(reason, str) else reason
        if isinstance(reason, OSError) and reason.strerror:
            text = reason.strerror
        raise NoticeFailed(f"{where}: cannot connect ({text})") from None
    except TimeoutError:
        raise NoticeFailed(f"{where}: no answer within {timeout:g} s") from None
    except OSError as exc:
        raise NoticeFailed(f"{where}: {type(exc).__name__}") from None
    refusal = _robot_error(data)
    if refusal:
        raise NoticeFailed(f"{where}: refused ({refusal})")
