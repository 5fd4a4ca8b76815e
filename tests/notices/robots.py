"""A real HTTP server on a loopback port that plays the group robots.

Each request is checked against the robot's published documentation, independently
of the application's code: the payload's shape, and the signature recomputed here
from the secret the robot was given (DingTalk: HMAC-SHA256 keyed with the secret over
``timestamp + "\\n" + secret``, Base64, URL-encoded, as ``timestamp`` (ms) and ``sign``
query parameters; Feishu: HMAC-SHA256 keyed with ``timestamp + "\\n" + secret`` over an
empty message, Base64, in the JSON body with ``timestamp`` in seconds). A request that
fails a check is answered as the robot answers it (errcode / code not 0) and recorded
with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    path: str
    query: dict
    headers: dict
    body: dict
    #: Why the robot refused it (None: accepted).
    problem: str | None = None


@dataclass
class Robots:
    host: str
    port: int
    #: path -> secret the robot there was set up with
    secrets: dict = field(default_factory=dict)
    #: path -> HTTP status to answer with instead (an erroring robot)
    failing: dict = field(default_factory=dict)
    received: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def at(self, prefix: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path.startswith(prefix)]


def _check_wecom(body: dict, query: dict, secret) -> str | None:
    if body.get("msgtype") != "markdown":
        return "msgtype must be markdown"
    content = (body.get("markdown") or {}).get("content")
    if not isinstance(content, str) or not content:
        return "markdown.content missing"
    if len(content.encode()) > 4096:
        return "markdown.content longer than 4096 bytes"
    if "key" not in query:
        return "no key"
    return None


def _check_dingtalk(body: dict, query: dict, secret) -> str | None:
    if body.get("msgtype") != "markdown":
        return "msgtype must be markdown"
    markdown = body.get("markdown") or {}
    if not markdown.get("title") or not markdown.get("text"):
        return "markdown.title and markdown.text are required"
    if secret:
        stamp = (query.get("timestamp") or [""])[0]
        signs = query.get("sign") or [""]
        if not stamp.isdigit() or abs(int(stamp) - time.time() * 1000) > 3600_000:
            return "timestamp is not within an hour (milliseconds)"
        digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256)
        expected = base64.b64encode(digest.digest()).decode()
        if signs[0] != expected:
            return "sign mismatch"
    return None


def _check_feishu(body: dict, query: dict, secret) -> str | None:
    if body.get("msg_type") not in ("interactive", "post", "text"):
        return "msg_type must be interactive, post or text"
    if body["msg_type"] == "interactive":
        card = body.get("card") or {}
        if not card.get("elements") or not card.get("header", {}).get("title", {}).get("content"):
            return "card needs a header title and elements"
    if secret:
        stamp = body.get("timestamp")
        if (
            not isinstance(stamp, str)
            or not stamp.isdigit()
            or abs(int(stamp) - time.time()) > 3600
        ):
            return "timestamp is not within an hour (seconds, as a string)"
        key = f"{stamp}\n{secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        if body.get("sign") != expected:
            return "sign mismatch"
    return None


def _check_signed_json(body: dict, headers: dict, raw: bytes, secret) -> str | None:
    if secret:
        stamp = headers.get("x-consult-timestamp", "")
        expected = hmac.new(secret.encode(), f"{stamp}.".encode() + raw, hashlib.sha256).hexdigest()
        if headers.get("x-consult-signature") != f"sha256={expected}":
            return "signature mismatch"
    return None


class _Handler(BaseHTTPRequestHandler):
    robots: Robots

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_POST(self):  # noqa: N802
        robots = self.robots
        parts = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        # DingTalk's sign is URL-encoded once in the query: parse_qs decodes it once.
        query = parse_qs(parts.query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            body = {}
        secret = next((s for p, s in robots.secrets.items() if parts.path.startswith(p)), None)
        if parts.path.startswith("/wecom"):
            problem = _check_wecom(body, query, secret)
            answer = {"errcode": 93000 if problem else 0, "errmsg": problem or "ok"}
        elif parts.path.startswith("/dingtalk"):
            problem = _check_dingtalk(body, query, secret)
            answer = {"errcode": 310000 if problem else 0, "errmsg": problem or "ok"}
        elif parts.path.startswith("/feishu"):
            problem = _check_feishu(body, query, secret)
            answer = {"code": 19021 if problem else 0, "msg": problem or "success", "data": {}}
        else:
            problem = _check_signed_json(body, headers, raw, secret)
            answer = {"ok": problem is None}
        if headers.get("content-type", "").split(";")[0] != "application/json":
            problem = problem or "content type must be application/json"
        with robots.lock:
            robots.received.append(Received(parts.path, query, headers, body, problem))
        status = next((s for p, s in robots.failing.items() if parts.path.startswith(p)), 200)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@contextmanager
def running_robots():
    robots = Robots("127.0.0.1", 0)
    handler = type("Handler", (_Handler,), {"robots": robots})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    robots.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield robots
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def free_port() -> int:
    """A loopback port nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
