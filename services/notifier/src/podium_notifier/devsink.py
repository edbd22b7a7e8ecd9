"""Development SMTP sink: an aiosmtpd server that stores every mail it receives as a file.

`make dev` runs it inside the notifier process so a developer can list the mails
(GET /internal/dev/mails) and click a verification link; tests use it as a real
SMTP server on 127.0.0.1. Never enabled in production (setting `dev_smtp_sink`).
"""

from __future__ import annotations

import email
import email.policy
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

_LINK = re.compile(r"https?://[^\s<>\"']+")


class _StoreHandler:
    """aiosmtpd handler writing each accepted message to `<directory>/<time>-<id>.eml`."""

    def __init__(self, directory: Path, refuse: Callable[[str], bool] | None) -> None:
        self.directory = directory
        self.refuse = refuse

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Accept recipients, except those the (test) refusal rule names: 550, permanent."""
        if self.refuse is not None and self.refuse(address):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message with its envelope recipients."""
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode()
        header = "X-Podium-Envelope-To: " + ", ".join(envelope.rcpt_tos) + "\r\n"
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.directory / (name + ".tmp")
        tmp.write_bytes(header.encode() + content)
        tmp.rename(self.directory / name)  # readers never see half a mail
        return "250 Message accepted for delivery"


class DevMailSink:
    """A running SMTP sink on `host:port` storing mails in `directory`."""

    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        port: int = 1025,
        refuse: Callable[[str], bool] | None = None,
    ) -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self.directory.mkdir(parents=True, exist_ok=True)
        self._handler = _StoreHandler(directory, refuse)
        self._controller: Controller | None = None

    def start(self) -> None:
        """Start listening (in aiosmtpd's own thread); a stopped sink can start again."""
        if self._controller is None:
            self._controller = Controller(
                self._handler, hostname=self.host, port=self.port, ready_timeout=10
            )
            self._controller.start()

    def stop(self) -> None:
        """Stop listening (an outage, for tests); stored mails stay."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def mails(self) -> list[dict[str, Any]]:
        """Return the stored mails, oldest first."""
        return read_mails(self.directory)


def _parse(path: Path) -> dict[str, Any]:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    text = text_part.get_content() if text_part is not None else ""
    html = html_part.get_content() if html_part is not None else None
    return {
        "id": path.stem,
        "envelope_to": [a.strip() for a in str(message["X-Podium-Envelope-To"]).split(",")],
        "from": str(message["From"]),
        "to": str(message["To"]),
        "subject": str(message["Subject"]),
        "text": text,
        "html": html,
        "links": _LINK.findall(text),
    }


def read_mails(directory: Path, to: str | None = None) -> list[dict[str, Any]]:
    """Parse the mails stored in `directory`, oldest first, optionally only those sent to `to`."""
    if not directory.is_dir():
        return []
    mails = [_parse(p) for p in sorted(directory.glob("*.eml"))]
    if to is not None:
        mails = [m for m in mails if to.lower() in (a.lower() for a in m["envelope_to"])]
    return mails
