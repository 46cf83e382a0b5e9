"""The three mail backends: console (a log event), file (.eml files) and SMTP, the last
against a small SMTP server on 127.0.0.1 that speaks the protocol over a real socket."""

from __future__ import annotations

import asyncio
import email
from email.policy import default
from pathlib import Path

import pytest
import structlog

from certplatform.kernel.mail import (
    ConsoleMailer,
    FileMailer,
    Mail,
    SmtpMailer,
    mailer_from_settings,
)
from certplatform.kernel.settings import Settings

MAIL = Mail(
    "someone@example.com", "Reset · 재설정", "Open http://x/password/reset/abc\n한국어 본문"
)


async def test_console_logs_the_whole_mail() -> None:
    with structlog.testing.capture_logs() as logs:
        await ConsoleMailer("site <no-reply@example.com>").send(MAIL)
    [event] = [e for e in logs if e["event"] == "mail.console"]
    assert event["to"] == MAIL.to
    assert event["subject"] == MAIL.subject
    assert event["body"] == MAIL.body


def _read(directory: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=default)  # type: ignore[misc]
        for p in sorted(directory.glob("*.eml"))
    ]


async def test_file_backend_writes_one_eml_per_mail(tmp_path: Path) -> None:
    mailer = mailer_from_settings(Settings(MAIL_BACKEND="file", MAIL_DIR=tmp_path / "out"))
    assert isinstance(mailer, FileMailer)
    await mailer.send(MAIL)
    await mailer.send(Mail("other@example.com", "Second", "two"))
    first, second = _read(tmp_path / "out")
    assert first["To"] == MAIL.to
    assert first["Subject"] == MAIL.subject
    assert "한국어 본문" in first.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert second["To"] == "other@example.com"
    assert list((tmp_path / "out").glob("*.part")) == []


class _SmtpServer:
    """Just enough of RFC 5321 for one client: greeting, EHLO, MAIL, RCPT, DATA, QUIT."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[str, list[str], bytes]] = asyncio.Queue()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await reply("220 test ESMTP")
        sender, recipients = "", []
        while line := (await reader.readline()).decode().strip():
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                await reply("250 test")
            elif verb == "MAIL":
                sender = line.split(":", 1)[1].strip()
                await reply("250 OK")
            elif verb == "RCPT":
                recipients.append(line.split(":", 1)[1].strip())
                await reply("250 OK")
            elif verb == "DATA":
                await reply("354 go on")
                data = b""
                while (chunk := await reader.readline()) != b".\r\n":
                    data += chunk
                await self.received.put((sender, recipients, data))
                await reply("250 queued")
            elif verb == "QUIT":
                await reply("221 bye")
                break
            else:
                await reply("502 not here")
        writer.close()


async def test_smtp_backend_sends_to_the_server() -> None:
    server = _SmtpServer()
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    try:
        settings = Settings(
            MAIL_BACKEND="smtp",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=port,
            SMTP_STARTTLS=False,
            MAIL_FROM="site <no-reply@example.com>",
        )
        mailer = mailer_from_settings(settings)
        assert isinstance(mailer, SmtpMailer)
        await mailer.send(MAIL)  # returns at once; the mail leaves in the background
        sender, recipients, data = await asyncio.wait_for(server.received.get(), 10)
        await asyncio.wait_for(mailer.drain(), 10)  # the client's QUIT is answered too
    finally:
        listening.close()
        await listening.wait_closed()
    assert sender == "<no-reply@example.com>"
    assert recipients == ["<someone@example.com>"]
    message = email.message_from_bytes(data, policy=default)
    assert message["Subject"] == MAIL.subject
    assert "한국어 본문" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_production_needs_public_url_to_send_mail() -> None:
    secrets = {"SECRET_KEY": "s" * 40, "AUDIT_KEY": "a" * 40}
    with pytest.raises(ValueError, match="PUBLIC_URL"):
        Settings(APP_ENV="production", MAIL_BACKEND="smtp", **secrets)  # type: ignore[arg-type]
    Settings(  # type: ignore[arg-type]
        APP_ENV="production", MAIL_BACKEND="smtp", PUBLIC_URL="https://example.org", **secrets
    )
