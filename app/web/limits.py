"""Rate limits that views declare: brute force on credential checks, a ceiling on sent mail.

``@limits_credentials(account=...)`` goes on every view that checks a password or a code: every
attempt counts per client IP (``LOGIN_RATE_LIMIT_IP``) and every wrong credential per account
(``LOGIN_RATE_LIMIT_ACCOUNT``). The counters are shared limits (one scope each), so guesses spread
over the sign-in page, the JSON API and the account pages add up. ``@limits_mail`` goes on every
view that may send a mail or a text (``MAIL_RATE_LIMIT_IP`` per client IP).

Key functions are total: an exception in one makes Flask-Limiter believe its storage is down and
fall back to the in-memory limits, which would drop the per-account limit.
"""

import functools
import logging
import threading
from collections.abc import Callable

from flask import current_app
from flask import g
from flask import request

from ..services import accounts
from ..services.account_errors import WrongPassword
from ..services.errors import CodeRejected
from ..services.errors import SignInRefused
from .origin import request_origin
from .second_factor import pending_second_factor
from .session import current_session

log = logging.getLogger(__name__)

# Refusals a view may raise that mean "wrong credential": they count against the account.
CREDENTIAL_REFUSALS = (SignInRefused, CodeRejected, WrongPassword)
EMAIL_LIMIT = 254

_build_lock = threading.Lock()


def credential_refused() -> None:
    """Tell the per-account limit that this request's password or code was wrong."""
    g.credential_refused = True


def limits_credentials(account: Callable[[], str]):
    """Brute-force limits on a view that checks a credential; ``account`` names the account it is
    about (an email address, normalised by the limiter)."""
    def decorate(view):
        @functools.wraps(view)
        def limited(*args, **kwargs):
            guarded = _limited("credentials", view, lambda limiter: _credential_limits(limiter, view, account))
            try:
                return guarded(*args, **kwargs)
            except CREDENTIAL_REFUSALS:
                credential_refused()
                raise
        return limited
    return decorate


def limits_mail(view):
    """A per-IP ceiling on a view that may send a message (registration, resends, reset requests)."""
    @functools.wraps(view)
    def limited(*args, **kwargs):
        return _limited("mail", view, lambda limiter: limiter.shared_limit(
            lambda: current_app.config["MAIL_RATE_LIMIT_IP"], scope="mail-ip", key_func=client_ip)(view)
        )(*args, **kwargs)
    return limited


# --- what a credential check is about (each total: never raises) ---------------------------------

def form_email() -> str:
    """The email address in the form or JSON body."""
    source = request.get_json(silent=True) if request.is_json else request.form
    return source.get("email", "") if isinstance(source, dict) or hasattr(source, "getlist") else ""


def pending_email() -> str:
    """The sign-in waiting for its second factor."""
    return (pending_second_factor() or {}).get("email", "")


def signed_in_email() -> str:
    """The signed-in user (pages and API that ask for the password again)."""
    session = current_session()
    return session.user.email if session else ""


def client_ip() -> str:
    return request.remote_addr or "unknown"


# --- wiring ------------------------------------------------------------------------------------------

def _limited(kind: str, view, build):
    """``view`` under this application's limits of ``kind``, built once per application (the
    limiter is per application)."""
    cache = current_app.extensions.setdefault("limited_views", {})
    guarded = cache.get((kind, view))
    if guarded is None:
        with _build_lock:
            guarded = cache.get((kind, view))
            if guarded is None:
                guarded = cache[kind, view] = build(current_app.extensions["rate_limiter"])
    return guarded


def _credential_limits(limiter, view, account: Callable[[], str]):
    def account_key() -> str:
        return "account:" + _email(account)

    def lockout(_limit) -> None:
        try:
            accounts.record_lockout(_email(account), request_origin())
        except Exception:  # an exception here would also pass for a storage outage
            log.exception("login.locked could not be recorded")

    per_account = limiter.shared_limit(
        lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"], scope="credential-account",
        key_func=account_key, deduct_when=lambda _response: bool(g.get("credential_refused")),
        on_breach=lockout)
    per_ip = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT_IP"], scope="credential-ip",
                                  key_func=client_ip, on_breach=lockout)
    return per_ip(per_account(view))


def _email(account: Callable[[], str]) -> str:
    """The account's address as stored (lower case), or "" for a body that names none."""
    try:
        email = account()
    except Exception:  # a hostile body: the check itself will refuse it
        return ""
    return email.strip().lower()[:EMAIL_LIMIT] if isinstance(email, str) else ""
