"""Email over SMTP with STARTTLS and login (seed 002's report mail), for reports and notifications.

The message is multipart/alternative (plain text, then HTML with its charts as related inline
images). The connection refuses to log in without TLS: the password never travels in the clear.
Errors name the server and the step, never the password.
"""
from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from ops.render import Rendered


class MailError(Exception):
    """Sending failed or the mail settings are incomplete; the message says which."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    user: str
    password: str
    sender: str
    context: ssl.SSLContext | None = None      # tests pass one that trusts their own certificate
    timeout: float = 30.0

    def __repr__(self) -> str:  # never the password
        return f"SmtpConfig(host={self.host!r}, port={self.port}, user={self.user!r}, sender={self.sender!r})"

    @classmethod
    def from_settings(cls, s: Any, context: ssl.SSLContext | None = None) -> "SmtpConfig":
        return cls(s.email_smtp_host, s.email_smtp_port, s.email_smtp_user, s.email_smtp_pass, s.email_from,
                   context)

    def problems(self) -> list[str]:
        missing = [n for n, v in (("ASTER_EMAIL_SMTP_HOST", self.host), ("ASTER_EMAIL_FROM", self.sender),
                                  ("ASTER_EMAIL_SMTP_USER", self.user), ("ASTER_EMAIL_SMTP_PASS", self.password))
                   if not v]
        return [f"{n} is not set" for n in missing]


def recipients(text: str) -> list[str]:
    return [a.strip() for a in text.replace(";", ",").split(",") if a.strip()]


def build_message(rendered: Rendered, sender: str, to: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain="mraster.local")
    msg.set_content(rendered.text)
    html = rendered.html
    cids = {name: make_msgid(domain="mraster.local") for name in rendered.images}
    for name, cid in cids.items():
        html = html.replace(f"cid:{name}", f"cid:{cid[1:-1]}")
    msg.add_alternative(html, subtype="html")
    html_part = msg.get_payload()[1]  # type: ignore[index]
    for name, cid in cids.items():
        html_part.add_related(rendered.images[name], maintype="image", subtype="png", cid=cid,
                              filename=f"{name}.png", disposition="inline")
    return msg


def send(config: SmtpConfig, msg: EmailMessage) -> None:
    problems = config.problems()
    if problems:
        raise MailError("cannot send email: " + "; ".join(problems))
    context = config.context or ssl.create_default_context()
    where = f"{config.host}:{config.port}"
    step = "connect"
    try:
        with smtplib.SMTP(config.host, config.port, timeout=config.timeout) as smtp:
            step = "EHLO"
            smtp.ehlo()
            if not smtp.has_extn("starttls"):
                raise MailError(f"SMTP server {where} does not offer STARTTLS; not sending the password in clear")
            step = "STARTTLS"
            smtp.starttls(context=context)
            smtp.ehlo()
            step = "login"
            smtp.login(config.user, config.password)
            step = "send"
            smtp.send_message(msg)
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"SMTP server {where} refused the login of {config.user!r} ({exc.smtp_code})") from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise MailError(f"SMTP {where}, at {step}: {type(exc).__name__}: {exc}".replace(config.password, "***")
                        if config.password else f"SMTP {where}, at {step}: {exc}") from None
