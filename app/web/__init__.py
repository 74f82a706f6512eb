"""Request handling shared by pages, the JSON API and the OAuth views, one module per concern:

- ``session``: the browser session cookie, ``current_session()``, the ``requires_session`` guard,
  and Flask's own signed cookie (``StateCookie``)
- ``permissions``: the admin API's caller and the ``requires_permission`` guard
- ``limits``: ``@limits_credentials`` (brute force) and ``@limits_mail`` (mail sent per IP)
- ``second_factor``: the sign-in waiting for its code
- ``headers``: security headers on every response
- ``redirects``: 303 for every redirect that answers a POST
- ``bodies``: body size and JSON nesting limits, no NUL characters in parameters, urlencoded forms
  parsed from the body already read
- ``hosts``: a Host header the router cannot read is a 400, not a 500
- ``origin``: the client's address, and local redirect targets
- ``areas``: which requests answer problem JSON
"""

from flask import Flask

from . import limits
from .bodies import FormRequest
from .bodies import RequestJSONProvider
from .bodies import refuse_nul_parameters
from .bodies import refuse_oversized_stream
from .headers import security_headers_hook
from .hosts import refuse_unreadable_host
from .limits import release_account_hold
from .redirects import see_other_after_post
from .session import StateCookie


def init_app(app: Flask) -> None:
    app.ensure_sync = _known_sync(app.ensure_sync)
    app.json = RequestJSONProvider(app)
    app.request_class = FormRequest
    app.session_interface = StateCookie()
    limits.init_app(app)
    app.before_request(refuse_unreadable_host)
    app.before_request(refuse_oversized_stream)
    app.before_request(refuse_nul_parameters)
    app.after_request(security_headers_hook(app))
    app.after_request(see_other_after_post)
    # A teardown, so the hold ends after the limiter's after_request has counted the request.
    app.teardown_request(release_account_hold)


# How many functions ``_known_sync`` remembers; past it, it starts again.
KNOWN_SYNC_LIMIT = 4096


def _known_sync(ensure_sync):
    """Flask's ``ensure_sync``, remembering the functions it found synchronous.

    Flask asks it of every hook and view of every request (a dozen per request here), and each time
    inspects the function to tell a coroutine function; a function does not change kind.
    """
    known: dict = {}

    def known_or_checked(func):
        try:
            if func in known:
                return func
        except TypeError:  # an unhashable callable: asked each time
            return ensure_sync(func)
        checked = ensure_sync(func)
        if checked is func:
            if len(known) >= KNOWN_SYNC_LIMIT:
                known.clear()
            known[func] = True
        return checked

    return known_or_checked
