"""Small Authlib extensions, one rule each."""

import functools

from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter as BaseIssuerParameter
from flask import current_app
from flask import request as flask_request

from . import form_post


def _repeated(names_and_values) -> InvalidRequestError | None:
    """The error for the first parameter given more than once, if any."""
    for name, values in names_and_values:
        if len(values) > 1:
            # The name is the client's: it goes into the description only if it may (RFC 6749 §5.2).
            named = f"'{name}'" if name and not invalid_error_characters(name) else "a parameter"
            return InvalidRequestError(f"The request includes {named} more than once.")
    return None


def reject_repeated_parameters(view):
    """RFC 6749 §3.2: request parameters MUST NOT be included more than once (query and body count
    as one request). For the token, revocation and introspection endpoints: 400 invalid_request."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        error = _repeated(flask_request.values.lists())
        if error is not None:
            return current_app.extensions["oauth_server"].handle_error_response(None, error)
        return view(*args, **kwargs)

    return checked


class SingleValuedParameters:
    """RFC 6749 §3.1: authorization request parameters MUST NOT be included more than once.

    Runs once the client and its redirect URI are verified, so the error goes back to the client;
    a repeated ``client_id`` or ``redirect_uri`` leaves nothing verified and is refused earlier
    (``AuthorizationCodeGrant.validate_no_multiple_request_parameter``) with an error page.
    """

    def __call__(self, grant):
        grant.register_hook("after_validate_authorization_request_payload", self.validate_single_values)

    def validate_single_values(self, grant, result):
        error = _repeated(grant.request.payload.datalist.items())
        if error is not None:
            raise error


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only, required of every client (RFC 9700 §2.1.1).

    Authlib falls back to ``plain`` when no method is sent and requires a challenge only from
    public clients; here a missing challenge, ``plain`` and unknown methods are refused with
    ``invalid_request`` sent back to the client. PKCE_REQUIRED_FOR_CONFIDENTIAL=false lets
    confidential clients omit PKCE (never downgrade it).
    """

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def __init__(self):
        super().__init__(required=True)

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if not challenge:
            if grant.request.client.is_public or current_app.config["PKCE_REQUIRED_FOR_CONFIDENTIAL"]:
                raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
            if method:
                raise InvalidRequestError("Missing 'code_challenge'")
            return
        # RFC 7636 §4.3 lets a client omit the method and mean plain; plain is refused here.
        if method != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        request = grant.request
        # RFC 7636 §4.6, OAuth 2.1 §4.1.3: a code issued with a challenge is redeemed only with the
        # matching verifier; without one the grant does not verify, which is invalid_grant (Authlib
        # answers invalid_request).
        if not request.form.get("code_verifier") and self.get_authorization_code_challenge(
                request.authorization_code):
            raise InvalidGrantError("Missing 'code_verifier': this code was issued for a code_challenge.")
        super().validate_code_verifier(grant, result)


class IssuerParameter(BaseIssuerParameter):
    """RFC 9207: every authorization response names the issuer in ``iss``."""

    def get_issuer(self) -> str:
        return current_app.config["ISSUER"]


# OAuth 2.0 Multiple Response Type Encoding Practices §2.1 and OAuth 2.0 Form Post Response Mode §2:
# the modes a code response may be delivered in. ``fragment`` is allowed for code but refused here: the
# query carries a code as well, and form_post keeps it out of URLs and logs altogether.
RESPONSE_MODES = ("query", "form_post")


class ResponseModes:
    """``response_mode``: query (the default for code) or form_post; anything else is
    invalid_request (RFC 6749 §4.1.2.1: an unsupported parameter value), sent back by query."""

    def __call__(self, grant):
        grant.register_hook("after_validate_authorization_request_payload", self.validate_response_mode)

    def validate_response_mode(self, grant, result):
        request = grant.request
        mode = request.payload.data.get("response_mode")
        if mode is None:
            return
        if mode not in RESPONSE_MODES:
            raise InvalidRequestError("The response_mode is not supported: use query or form_post.")
        # The redirect URI is verified by now: the one named, or the only one registered.
        redirect_uri = request.payload.redirect_uri or request.client.get_default_redirect_uri()
        if mode == "form_post" and not form_post.possible(redirect_uri):
            raise InvalidRequestError("response_mode=form_post needs an http or https redirect_uri.")
