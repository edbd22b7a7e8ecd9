"""The e-mail channel: Jinja2 templates (text + HTML) and SMTP transports (STYLE 11).

Rendering happens when a notification is created, so a broken template is found
there and recorded on the mail row instead of blocking the sender (SPEC §7.4).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from podium_notifier.config import Settings

LINK_LABELS = {
    "account.email_verification": "Confirm my e-mail address",
    "account.password_reset": "Choose a new password",
}


@dataclass(frozen=True)
class RenderedEmail:
    """A mail ready to be stored in the e-mail outbox."""

    subject: str
    text_body: str
    html_body: str


class TemplateFailed(Exception):
    """A template could not be rendered; the mail is dead-lettered, nothing else is blocked."""


class EmailRenderer:
    """Renders `<template>.subject.txt`, `<template>.txt` and `<template>.html`."""

    def __init__(self, environment: Environment | None = None) -> None:
        self.environment = environment or Environment(
            loader=PackageLoader("podium_notifier", "templates"),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, template: str, context: dict[str, Any]) -> RenderedEmail:
        """Render one mail; raises `TemplateFailed` on any template error."""
        values = {"link": None, "link_label": LINK_LABELS.get(template, "Open Podium"), **context}
        try:
            subject = self.environment.get_template(f"{template}.subject.txt").render(values)
            text = self.environment.get_template(f"{template}.txt").render(values)
            html = self.environment.get_template(f"{template}.html").render(values)
        except Exception as exc:  # any Jinja error, missing variable or missing file
            raise TemplateFailed(f"{template}: {type(exc).__name__}: {exc}") from exc
        return RenderedEmail(" ".join(subject.split()), text, html)


@dataclass(frozen=True)
class OutgoingMail:
    """One stored mail handed to a transport."""

    to_address: str
    subject: str
    text_body: str
    html_body: str | None


class PermanentFailure(Exception):
    """The relay refused the mail for good (5xx): retrying cannot help."""


class MailTransport(abc.ABC):
    """Where mails go: an SMTP relay in every deployment (dev sink, catcher, provider)."""

    @abc.abstractmethod
    async def send(self, mail: OutgoingMail) -> None:
        """Deliver `mail`; raise on failure (`PermanentFailure` when retrying is useless)."""


class SmtpTransport(MailTransport):
    """Sends through an SMTP relay with aiosmtplib, one connection per mail."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def build_message(self, mail: OutgoingMail) -> EmailMessage:
        """Build a multipart/alternative message (text first, HTML preferred by clients)."""
        message = EmailMessage()
        message["From"] = self.settings.mail_from
        message["To"] = mail.to_address
        message["Subject"] = mail.subject
        message["Message-ID"] = make_msgid(domain="podium.local")
        message.set_content(mail.text_body)
        if mail.html_body:
            message.add_alternative(mail.html_body, subtype="html")
        return message

    async def send(self, mail: OutgoingMail) -> None:
        """Hand the mail to the relay; 5xx answers are permanent, the rest are retried."""
        s = self.settings
        try:
            await aiosmtplib.send(
                self.build_message(mail),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                start_tls=s.smtp_start_tls,
                timeout=s.smtp_timeout_seconds,
            )
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPResponseException) as exc:
            code = getattr(exc, "code", None)
            if code is None and isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
                code = min((r.code for r in exc.recipients), default=None)
            if code is not None and 500 <= code < 600:
                raise PermanentFailure(f"{code} {exc}") from exc
            raise
