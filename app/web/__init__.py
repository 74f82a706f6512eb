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
