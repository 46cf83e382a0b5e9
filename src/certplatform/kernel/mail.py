"""Outgoing mail (MAIL_BACKEND): `console` writes each message to the log, `file` writes
each to its own .eml file in MAIL_DIR (as Django's console and file backends do, for
development and tests), `smtp` sends it.

Services queue a mail with `send_after_commit`: it leaves only if the transaction that
decided it commits. SMTP runs in the background so that the reply's timing does not tell
whether a mail was sent (no account enumeration by the clock).
"""

from __future__ import annotations

import asyncio
import secrets
import smtplib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol

import structlog

from certplatform.kernel.db import UnitOfWork
from certplatform.kernel.settings import Settings


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    body: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


def _message(sender: str, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = datetime.now(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    message["Message-ID"] = make_msgid(domain="cert-platform")
    message.set_content(mail.body)
    return message


class ConsoleMailer:
    """Every mail as one log event (development: read it where the server logs)."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    async def send(self, mail: Mail) -> None:
        # A logger per mail: structlog caches a module logger's first configuration.
        structlog.get_logger(__name__).warning(
            "mail.console", sender=self.sender, to=mail.to, subject=mail.subject, body=mail.body
        )


class FileMailer:
    """Every mail as an .eml file in `directory`, named so that they sort by time."""

    def __init__(self, sender: str, directory: Path) -> None:
        self.sender = sender
        self.directory = directory

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._write, mail)

    def _write(self, mail: Mail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"{stamp}-{secrets.token_hex(4)}.eml"
        # Written under another name, then renamed: a reader never sees half a mail.
        partial = path.with_suffix(".part")
        partial.write_bytes(bytes(_message(self.sender, mail)))
        partial.rename(path)


class SmtpMailer:
    """Sends through an SMTP server (STARTTLS and login when configured), in the background."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tasks: set[asyncio.Task[None]] = set()

    async def send(self, mail: Mail) -> None:
        task = asyncio.create_task(asyncio.to_thread(self._send, mail))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def drain(self) -> None:
        """Wait for the mails still on their way (at shutdown, and in tests)."""
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            structlog.get_logger(__name__).error("mail.smtp_failed", error=repr(task.exception()))

    def _send(self, mail: Mail) -> None:
        s = self.settings
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
            smtp.send_message(_message(s.mail_from, mail))


def mailer_from_settings(settings: Settings) -> Mailer:
    if settings.mail_backend == "file":
        return FileMailer(settings.mail_from, settings.mail_dir)
    if settings.mail_backend == "smtp":
        return SmtpMailer(settings)
    return ConsoleMailer(settings.mail_from)


def send_after_commit(uow: UnitOfWork, mailer: Mailer, mail: Mail) -> None:
    async def send() -> None:
        try:
            await mailer.send(mail)
        except OSError as exc:  # the change is committed; a lost mail must not fail the reply
            structlog.get_logger(__name__).error("mail.failed", to=mail.to, error=repr(exc))

    uow.after_commit(send)
