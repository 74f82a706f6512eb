"""Outgoing mail: text and HTML from templates; SMTP when MAIL_SERVER is set, else the log."""

import logging
import smtplib

from flask import current_app
from flask import render_template
from flask_mail import Message

from ..extensions import mail
from . import verification
from .errors import MessageNotSent

log = logging.getLogger(__name__)
outbox = logging.getLogger("mail")


def send(to: str, subject: str, template: str, **context) -> None:
    """Send ``mail/<template>.txt`` and ``.html``; MessageNotSent when delivery fails."""
    context.setdefault("issuer", current_app.config["ISSUER"])
    text = render_template(f"mail/{template}.txt", subject=subject, **context)
    html = render_template(f"mail/{template}.html", subject=subject, **context)
    if not current_app.config["MAIL_SERVER"]:
        # Development: no mail server, so the message (and any code in it) is written to the log.
        outbox.info("mail to=%s subject=%r\n%s", to, subject, text)
        return
    try:
        mail.send(Message(subject, recipients=[to], body=text, html=html))
    except (smtplib.SMTPException, OSError) as error:
        log.error("mail.failed template=%s error=%s", template, type(error).__name__)
        raise MessageNotSent() from None


def send_code(user_id, to: str, purpose: str, template: str, subject: str, target: str | None = None) -> None:
    """Issue a verification code and mail it; ResendTooSoon inside the window, MessageNotSent if
    delivery fails (the code is then resendable at once)."""
    code = verification.issue(user_id, purpose, target=target)
    try:
        send(to, subject, template, code=code, expires_in=verification.lifetime_text(purpose))
    except MessageNotSent:
        verification.unsent(user_id, purpose)
        raise
