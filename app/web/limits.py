"""Rate limits that views declare: brute force on credential checks, a ceiling on sent mail.

``@limits_credentials(account=...)`` goes on every view that checks a password or a code: every
attempt counts per client IP (``LOGIN_RATE_LIMIT_IP``) and every wrong credential per account
(``LOGIN_RATE_LIMIT_ACCOUNT``). The counters are shared limits (one scope each), so guesses spread
over the sign-in page, the JSON API and the account pages add up. ``@limits_mail`` goes on every
view that may send a mail or a text (``MAIL_RATE_LIMIT_IP`` per client IP).

A wrong credential is counted once its check has answered, so the per-account limit is exact only
if the checks of one account happen one after another: each takes the account's hold first (a
Redis lock shared by every process when ``REDIS_URL`` is set, else a table in this one process,
which is then the whole server) and keeps it until the request ends, after the count. A request
that finds the account busy answers 429 with ``Retry-After: 1`` and checks nothing. With Redis
unreachable the hold falls back to the process's table, as the limits fall back to memory.

Flask-Limiter runs only on requests a declared limit applies to. No limit covers the whole
application, so its check before every request is not installed; its count after the response
(where a wrong credential is deducted) and its reset at teardown run only on requests that
entered a limited view (the view marks the request). Every other request pays nothing for limits.

Key functions are total: an exception in one makes Flask-Limiter believe its storage is down and
fall back to the in-memory limits, which would drop the per-account limit.
"""

import functools
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable

import redis
from flask import Flask
from flask import current_app
from flask import g
from flask import request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from redis.lock import Lock
from werkzeug.exceptions import TooManyRequests

from ..extensions import get_redis
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
# How long a hold outlives a worker that died holding it. Longer than any check (a password hash,
# a mail for the second factor); should a check outlast it, a second one could run beside it.
HOLD_SECONDS = 15
# The mark of a request that entered a limited view: the limiter counts and resets only those.
LIMITED = "idp.limited"
# Where a request keeps its hold: on the request itself, as requests may share an app context (and g).
HOLD = "idp.account_hold"

_build_lock = threading.Lock()
_holds_guard = threading.Lock()


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
            _hold_account(_email(account))
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


# --- one check per account at a time -----------------------------------------------------------------

def _hold_account(email: str) -> None:
    """Take the account's hold for this request, or answer 429 if another check holds it."""
    key = "idp-hold:" + hashlib.sha256(email.encode()).hexdigest()
    client = get_redis()
    if client is not None:
        lock = Lock(client, key, timeout=HOLD_SECONDS, blocking=False)
        try:
            if not lock.acquire():
                _busy()
            request.environ[HOLD] = lock
            return
        except redis.RedisError:
            log.warning("credential_hold.redis_unavailable: holding in this process")
    token = secrets.token_hex(8)
    with _holds_guard:
        holds = _local_holds()
        holder = holds.get(key)
        if holder is not None and holder[1] > time.monotonic():
            _busy()
        holds[key] = (token, time.monotonic() + HOLD_SECONDS)
    request.environ[HOLD] = (key, token)


def _local_holds() -> dict[str, tuple[str, float]]:
    """This application's holds in this process: account key -> (token, monotonic deadline)."""
    return current_app.extensions.setdefault("account_holds", {})


def _busy():
    raise TooManyRequests("Another password or code for this account is being checked. Try again in a moment.",
                          retry_after=1)


def release_account_hold(_error=None) -> None:
    """Teardown: the request and its count are done, the account's next check may run."""
    hold = request.environ.pop(HOLD, None)
    if isinstance(hold, Lock):
        try:
            hold.release()
        except redis.RedisError:  # it expired meanwhile, or Redis went away: it expires there
            log.warning("credential_hold.release_failed")
    elif hold is not None:
        key, token = hold
        with _holds_guard:
            holds = _local_holds()
            if holds.get(key, ("",))[0] == token:
                del holds[key]


# --- wiring ------------------------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    """One Limiter per application (it keeps state per app: its storage, the Redis fallback), its
    request hooks kept to the requests that entered a limited view."""
    hooks = app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs
    known = [len(funcs.get(None, ())) for funcs in hooks]
    app.extensions["rate_limiter"] = Limiter(key_func=get_remote_address, app=app)
    added = [funcs[None][count:] for funcs, count in zip(hooks, known)]
    if [len(each) for each in added] != [1, 1, 1]:
        raise RuntimeError("Flask-Limiter no longer installs one before, after and teardown hook")
    for funcs, count in zip(hooks, known):
        del funcs[None][count:]
    (_check,), (count_response,), (reset,) = added  # the check runs in the limited views themselves

    def count(response):
        return count_response(response) if LIMITED in request.environ else response

    def release(error=None) -> None:
        if LIMITED in request.environ:
            reset(error)

    app.after_request(count)
    app.teardown_request(release)


def _limited(kind: str, view, build):
    """``view`` under this application's limits of ``kind``, built once per application (the
    limiter is per application); marks the request as limited."""
    request.environ[LIMITED] = True
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
