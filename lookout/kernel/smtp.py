"""Sending one email with the deployment's SMTP settings (host, port, STARTTLS, login)."""

from __future__ import annotations

from email.message import EmailMessage, Message

import aiosmtplib

from lookout.kernel.settings import Settings


async def send_mail(
    settings: Settings, message: EmailMessage | Message, give_up_after: float
) -> BaseException | None:
    """Send `message`; return the failure (refused, unreachable, timed out) instead of raising,
    so the caller records the attempt and its outcome and retries later."""
    s = settings
    try:
        await aiosmtplib.send(
            message,
            hostname=s.smtp_host,
            port=s.smtp_port,
            start_tls=s.smtp_starttls,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=give_up_after,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        return exc
    return None
