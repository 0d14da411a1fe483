"""Local alert receivers on 127.0.0.1: an SMTP server (aiosmtpd) and an HTTP webhook endpoint.

The demo and the tests point the alert connections at them, so alerts travel for real.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
WEBHOOK_PATH = "/retailmax/alerts"


@dataclass
class Inbox:
    """What the receivers got: e-mail messages and webhook JSON bodies."""

    emails: list[Message] = field(default_factory=list)
    posts: list[dict[str, Any]] = field(default_factory=list)
    smtp_port: int = 0
    webhook_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_email(self, raw: bytes) -> None:
        """Keeps one received message."""
        with self._lock:
            self.emails.append(message_from_bytes(raw))

    def add_post(self, body: dict[str, Any]) -> None:
        """Keeps one webhook body."""
        with self._lock:
            self.posts.append(body)


class _SmtpHandler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        self.inbox.add_email(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def _webhook_handler(inbox: Inbox) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.path != WEBHOOK_PATH:
                self.send_response(404)
                self.end_headers()
                return
            inbox.add_post(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, _format: str, *_args: Any) -> None:
            return  # quiet: the test or demo reports what arrived

    return Handler


def _free_port() -> int:
    """A port free on 127.0.0.1 now (aiosmtpd checks its server by connecting to the port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def alert_receivers() -> Iterator[Inbox]:
    """Starts both receivers on free ports of 127.0.0.1; stops them on exit."""
    inbox = Inbox()
    smtp = Controller(_SmtpHandler(inbox), hostname=HOST, port=_free_port())
    smtp.start()
    http = ThreadingHTTPServer((HOST, 0), _webhook_handler(inbox))
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    inbox.smtp_port = smtp.port
    inbox.webhook_url = f"http://{HOST}:{http.server_address[1]}{WEBHOOK_PATH}"
    try:
        yield inbox
    finally:
        http.shutdown()
        http.server_close()
        smtp.stop()
