"""The AuthorizationServer: client lookup and authentication, token saving, and requests kept for later."""

import base64
import functools
import json
import os
from urllib.parse import unquote

from authlib.common.security import is_secure_transport
from authlib.integrations.flask_oauth2 import AuthorizationServer as BaseAuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Request
from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749 import OAuth2Payload
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749 import UnsupportedResponseTypeError
from authlib.oauth2.rfc6749.errors import InsecureTransportError
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from flask import Response
from flask import current_app
from flask import request as flask_request
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import MultiDict

from app.extensions import db

from . import assertions
from . import clients
from .clients import ASSERTION_AUTH_METHODS


class StoredPayload(OAuth2Payload):
    def __init__(self, params: dict[str, list[str]]):
        self._data = MultiDict(params)

    @property
    def data(self):
        return self._data

    @property
    def datalist(self):
        return {key: self._data.getlist(key) for key in self._data}


class StoredRequest(OAuth2Request):
    """An authorization request resumed from ``pending_authorizations`` after sign-in or consent."""

    def __init__(self, uri: str, params: dict[str, list[str]]):
        super().__init__("GET", uri, headers={})
        self.payload = StoredPayload(params)

    @property
    def args(self):
        return self.payload.data

    @property
    def form(self):
        return MultiDict()


class FlaskRequest(FlaskOAuth2Request):
    """Authlib's view of the Flask request, built on the request object itself.

    Authlib's own reads every attribute through Flask's context-local proxy, walks the environ to
    count the headers, and computes the request's full IRI (Werkzeug's ``request.url``) only to check
    its transport, which depends on the scheme and host alone: the check is made here on those, its
    verdict kept per scheme and host, and the URI is put together without the IRI decoding.
    """

    def __init__(self, request):
        scheme, host = request.scheme, request.host
        # RFC 6749 §3.1, §3.2: the endpoints MUST be served over TLS. Behind an https issuer nothing
        # else passes: the Host header is the client's to choose, and Authlib's own check lets plain
        # http through to a loopback host (RFC 8252 §7.3 is about redirect URIs). A development
        # issuer on http keeps Authlib's rule (loopback, or AUTHLIB_INSECURE_TRANSPORT set).
        if current_app.config["ISSUER_IS_HTTPS"] and scheme != "https" or not (
                _secure_origin(scheme, host) or os.getenv("AUTHLIB_INSECURE_TRANSPORT")):
            raise InsecureTransportError()
        query = request.environ.get("QUERY_STRING")
        # What OAuth2Request.__init__ sets (tests/oauth/test_token.py compares the two).
        self.method = request.method
        self.uri = f"{scheme}://{host}{request.root_path}{request.path}" + (f"?{query}" if query else "")
        self.headers = request.headers
        self._body = None
        self.payload = FlaskOAuth2Payload(request)
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None
        self._request = request


@functools.lru_cache(maxsize=64)
def _secure_origin(scheme: str, host: str) -> bool:
    return is_secure_transport(f"{scheme}://{host}/")


def _json(payload: dict) -> str:
    """``flask.json.dumps(payload)``: with the default provider's ``dumps``, its encoder is built
    once per provider and settings instead of once per answer."""
    provider = current_app.json
    if type(provider).dumps is not DefaultJSONProvider.dumps:
        return provider.dumps(payload)
    return _encoder(provider, provider.ensure_ascii, provider.sort_keys).encode(payload)


@functools.lru_cache(maxsize=8)
def _encoder(provider, ensure_ascii: bool, sort_keys: bool) -> json.JSONEncoder:
    return json.JSONEncoder(default=provider.default, ensure_ascii=ensure_ascii, sort_keys=sort_keys)


def authenticate_client_secret_basic(query_client, request):
    """client_secret_basic (RFC 6749 §2.3.1) for credentials that may not decode.

    Authlib's own decoder fails with a 500 on a non-ASCII header or credentials that are not
    UTF-8; such a client tried to authenticate and failed: 401 invalid_client, with the Basic
    challenge (RFC 6749 §5.2).
    """
    scheme, _, credentials = (request.headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII input
        raise InvalidClientError(status_code=401, description="The Basic credentials cannot be decoded.")
    client_id, colon, secret = decoded.partition(":")
    # RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    client_id, secret = unquote(client_id), unquote(secret)
    if not colon or not client_id or not secret:
        return None
    client = query_client(client_id)
    if client is None:
        raise InvalidClientError(status_code=401, description="The client does not exist on this server.")
    return client if client.check_client_secret(secret) else None


def _methods_presented(request) -> list[str]:
    """The ways the request authenticates its client: an Authorization header, a secret in the body,
    a client assertion."""
    found = []
    if (request.headers.get("Authorization") or "").partition(" ")[0].lower() == "basic":
        found.append("Basic credentials")
    if "client_secret" in request.form:
        found.append("client_secret")
    if assertions.presented(request):
        found.append("a client assertion")
    return found


class AuthorizationServer(BaseAuthorizationServer):
    def __init__(self, app=None):
        super().__init__(app)
        self.register_client_auth_method("client_secret_basic", authenticate_client_secret_basic)
        for method in ASSERTION_AUTH_METHODS:
            self.register_client_auth_method(method, assertions.authenticator(method))

    def authenticate_client(self, request, methods, endpoint="token"):
        """Authlib's client authentication, with one method per request and an assertion taken as one.

        RFC 6749 §2.3: the client MUST NOT use more than one authentication method in each request
        (§5.2: invalid_request). A request with a client assertion is authenticated by it alone:
        the other methods are not tried (a public client's ``none`` would otherwise succeed beside
        an assertion that was never checked)."""
        presented = _methods_presented(request)
        if len(presented) > 1:
            raise InvalidRequestError(f"The request authenticates its client in more than one way "
                                      f"({' and '.join(presented)}); use one.")
        if presented and presented[0] == "a client assertion":
            methods = [method for method in methods if method in ASSERTION_AUTH_METHODS]
            if not methods:
                raise InvalidClientError(status_code=401, description="Client assertions are not accepted here.")
        return super().authenticate_client(request, methods, endpoint)

    def get_authorization_grant(self, request):
        """Authlib's lookup, except for a response_type it could not name in an error.

        Authlib echoes the value in the error description, and refuses (with a 500) characters
        RFC 6749 §4.1.2.1 forbids there; such a value is unsupported all the same.

        A request object (``oauth.request_objects``) is resolved first: the parameters it carries
        are the request's from then on.
        """
        self.execute_hook("resolve_authorization_request", request)
        response_type = request.payload.response_type or ""
        if invalid_error_characters(response_type):
            raise UnsupportedResponseTypeError(response_type, "The response type is not supported by the server.",
                                               redirect_uri=self._verified_redirect_uri(request))
        return super().get_authorization_grant(request)

    def _verified_redirect_uri(self, request) -> str | None:
        """Where an error may go back to: a registered URI of a known client, else nowhere (RFC 6749 §4.1.2.1)."""
        client = self.query_client(request.payload.client_id)
        if client is None:
            return None
        requested = request.payload.redirect_uri
        if requested:
            return requested if client.check_redirect_uri(requested) else None
        return client.get_default_redirect_uri()

    def create_oauth2_request(self, request):
        # Authlib 1.9's Flask server ignores its argument and reads flask.request; a request the
        # view built (with the user's session attached) or resumed from storage is used as is.
        if isinstance(request, OAuth2Request):
            return request
        return FlaskRequest(flask_request._get_current_object())

    def query_client(self, client_id):
        return clients.find(client_id)

    def handle_response(self, status_code, payload, headers):
        """Authlib's answer (its Flask server's), the JSON encoded by ``_json``."""
        if isinstance(payload, dict):
            payload = _json(payload)
        return Response(payload, status=status_code, headers=headers)

    def save_token(self, token, request):
        """The tokens were added by ``oauth.tokens.issue``; commit them with the code or refresh
        token consumed in the same transaction. A client_credentials token writes nothing: there is
        no transaction to end then, and an empty commit would still cost a pass over the session;
        when nothing in the request used the database, not even a session is made to find that out."""
        if not db.session.registry.has():
            return
        session = db.session()
        if session.in_transaction() or session.new or session.dirty or session.deleted:
            session.commit()
