"""Text messages, behind a small interface: the default sender writes them to the log.

A real provider plugs in with ``use(app, sender)``: any object with ``send(phone, text)`` that
raises ``MessageNotSent`` when delivery fails.
"""

import logging
from typing import Protocol

from flask import Flask
from flask import current_app

outbox = logging.getLogger("sms")


class Sender(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class LogSender:
    """Development and default: the message (and its code) goes to the log."""

    def send(self, phone: str, text: str) -> None:
        outbox.info("sms to=%s\n%s", phone, text)


def use(app: Flask, sender: Sender) -> None:
    app.extensions["sms_sender"] = sender


def send(phone: str, text: str) -> None:
    """Send a text message through the application's sender."""
    current_app.extensions.get("sms_sender", LogSender()).send(phone, text)
