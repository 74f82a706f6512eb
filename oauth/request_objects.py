"""Request objects (RFC 9101, OpenID Connect Core §6): ``request`` by value, ``request_uri`` by reference.

The object is resolved before anything else looks at the authorization request: it is verified
with the client's registered keys (``oauth.client_keys``), its parameters are merged over the
query's, and the request goes on as if the client had sent the merged parameters. Only the
resolved parameters are kept while the user signs in or consents, so a resumed request is never
fetched or verified again.

Per client: request objects are usable when the client registered keys (``jwks`` or
``jwks_uri``) or ``request_object_signing_alg`` = ``none`` (unsigned objects, and then only
those). A client with neither is answered ``request_not_supported`` / ``request_uri_not_supported``
(OpenID Connect Core §6.1, §6.2: the OP does not support the parameter for it). Symmetric (HS*)
objects keyed with a client secret are not supported and not advertised.
"""

import base64
import json
import math
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc9101.errors import InvalidRequestObjectError
from authlib.oauth2.rfc9101.errors import InvalidRequestUriError
from authlib.oauth2.rfc9101.errors import RequestNotSupportedError
from authlib.oauth2.rfc9101.errors import RequestUriNotSupportedError
from flask import current_app
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.clock import now

from . import client_keys
from .server import StoredPayload

# The asymmetric JWS algorithms a signed request object may use (request_object_signing_alg_values_supported,
# with "none" for clients that registered it).
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
MAX_OBJECT_BYTES = 64 * 1024
# OpenID Connect Core §6.2: the entire Request URI MUST NOT exceed 512 ASCII characters.
MAX_REQUEST_URI_LENGTH = 512
FETCH_TIMEOUT = 2.0
CLOCK_SKEW = 30
# Claims of the JWT itself (RFC 7519 §4.1), not authorization request parameters.
JWT_CLAIMS = {"iss", "aud", "exp", "iat", "nbf", "jti", "sub"}


class _Refused(Exception):
    """Why the object is refused; becomes invalid_request_object (or invalid_request_uri)."""


def supported_for(application) -> bool:
    """Whether the client can send request objects at all: it has keys, or it allows unsigned ones."""
    return bool(application.jwks or application.jwks_uri or application.request_object_signing_alg == "none")


class RequestObjects:
    """Authorization server extension: resolves ``request`` / ``request_uri`` before the grant is chosen.

    ``AuthorizationServer.get_authorization_grant`` runs the ``resolve_authorization_request`` hook
    first, so response_type, redirect_uri, scope, state and the rest come from the object.
    """

    def __call__(self, server):
        server.register_hook("resolve_authorization_request", self.resolve)

    def resolve(self, server, request) -> None:
        datalist = request.payload.datalist
        by_value, by_reference = datalist.get("request"), datalist.get("request_uri")
        if by_value is None and by_reference is None:
            return
        client_ids = datalist.get("client_id") or []
        if len(client_ids) != 1:
            return  # missing or repeated client_id: the grant refuses it, with an error page
        client = server.query_client(client_ids[0])
        if client is None:
            return  # invalid_client, with an error page, from the grant
        # Until the object is verified, the query's redirect_uri (when registered) is the only
        # place an error may go (RFC 6749 §4.1.2.1), with the query's state.
        redirect_uri, state = server._verified_redirect_uri(request), request.payload.state
        if len(datalist.get("redirect_uri") or []) > 1:
            redirect_uri = None  # which one? neither is verified

        def error(cls, description=None):
            return cls(description, redirect_uri=redirect_uri, state=state)

        if by_value is not None and by_reference is not None:
            # RFC 9101 §5: request and request_uri MUST NOT be used together.
            raise error(InvalidRequestError, "The request includes both 'request' and 'request_uri'.")
        if len(by_value or by_reference) > 1:
            name = "request" if by_value is not None else "request_uri"
            raise error(InvalidRequestError, f"The request includes '{name}' more than once.")
        if not supported_for(client):
            # OpenID Connect Core §6.1, §6.2: the OP MUST return request_not_supported /
            # request_uri_not_supported when it does not support the parameter (for this client).
            raise error(RequestNotSupportedError if by_value is not None else RequestUriNotSupportedError,
                        "This client has registered no keys for request objects.")
        if by_reference is not None:
            try:
                token = _fetch(client, by_reference[0])
            except _Refused as refused:
                raise error(InvalidRequestUriError, str(refused)) from None
        else:
            token = by_value[0]
        try:
            claims = _verify(client, token)
            params = _merge(datalist, claims, client_ids[0])
        except _Refused as refused:
            raise error(InvalidRequestObjectError, str(refused)) from None
        except InvalidRequestError as invalid:
            invalid.redirect_uri, invalid.state = redirect_uri, state
            raise
        request.payload = StoredPayload(params)


# --- by reference -----------------------------------------------------------------------------------

class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 3xx is answered as the error it is, never followed


_opener = urllib.request.build_opener(_NoRedirects)


def registered(application, request_uri: str) -> bool:
    """OpenID Connect Core §6.2 with require_request_uri_registration: only URIs the client
    registered, exactly; a fragment may be added to one registered without (OpenID Connect
    Registration §2: the fragment names a version of the content; we never cache, so it changes nothing)."""
    uris = application.request_uris or []
    if request_uri in uris:
        return True
    base, hash_sign, _ = request_uri.partition("#")
    return bool(hash_sign) and base in uris and "#" not in base


def _fetchable(uri: str) -> bool:
    """https; or http on loopback while the issuer itself is plain http (a developer's machine, tests)."""
    parts = urlsplit(uri)
    if parts.scheme == "https" and parts.hostname:
        return True
    return (parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")
            and not current_app.config["ISSUER_IS_HTTPS"])


def _fetch(application, request_uri: str) -> str:
    if len(request_uri) > MAX_REQUEST_URI_LENGTH or not request_uri.isascii():
        raise _Refused("The request_uri is longer than 512 characters.")
    if not registered(application, request_uri):
        raise _Refused("The request_uri is not registered for this client.")
    if not _fetchable(request_uri):
        raise _Refused("The request_uri must be an https URL.")
    deadline = time.monotonic() + 2 * FETCH_TIMEOUT
    request = urllib.request.Request(request_uri.partition("#")[0],
                                     headers={"Accept": "application/oauth-authz-req+jwt, application/jwt"})
    body = b""
    try:
        with _opener.open(request, timeout=FETCH_TIMEOUT) as response:
            if response.status != 200:
                raise _Refused("The request_uri did not answer 200.")
            # RFC 9101 §10.4.1: bounded in size and time, whatever the other side does.
            while len(body) <= MAX_OBJECT_BYTES:
                if time.monotonic() > deadline:
                    raise _Refused("The request_uri answered too slowly.")
                chunk = response.read1(8192)
                if not chunk:
                    break
                body += chunk
    except (urllib.error.URLError, OSError, ValueError):
        raise _Refused("The request_uri could not be fetched.") from None
    if len(body) > MAX_OBJECT_BYTES:
        raise _Refused("The request object at the request_uri is too large.")
    try:
        return body.decode("ascii").strip()
    except UnicodeDecodeError:
        raise _Refused("The request_uri does not hold a request object.") from None


# --- verification -----------------------------------------------------------------------------------

def _b64json(part: str):
    try:
        return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except ValueError:  # binascii.Error, JSONDecodeError, UnicodeDecodeError
        raise _Refused("The request object is not a JWT.") from None


def _verify(application, token) -> dict:
    """The claims of a request object the client signed as agreed (RFC 9101 §6.2), else _Refused."""
    if not isinstance(token, str) or len(token) > MAX_OBJECT_BYTES:
        raise _Refused("The request object is too large.")
    parts = token.split(".")
    if len(parts) != 3:
        # Five parts would be an encrypted object (JWE): not supported, not advertised.
        raise _Refused("The request object is not a signed or unsigned JWT.")
    header = _b64json(parts[0])
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise _Refused("The request object has no valid JOSE header.")
    alg, registered_alg = header["alg"], application.request_object_signing_alg
    if alg == "none":
        # Unsigned only for a client that registered request_object_signing_alg none.
        if registered_alg != "none" or parts[2]:
            raise _Refused("Unsigned request objects are not allowed for this client.")
        claims = _b64json(parts[1])
    else:
        # OpenID Connect Registration §2: objects not signed with the registered algorithm MUST be rejected.
        if alg not in client_keys.ASYMMETRIC_ALGS or (registered_alg is not None and alg != registered_alg):
            raise _Refused("The request object is not signed with an algorithm agreed for this client.")
        claims = _verify_signature(application, token, header)
    if not isinstance(claims, dict):
        raise _Refused("The request object's payload is not a JSON object.")
    _check_claims(claims, application.client_id)
    return claims


def _verify_signature(application, token: str, header: dict) -> dict:
    alg, kid = header["alg"], header.get("kid")
    for refresh in (False, True):
        candidates = _keys_for(application, alg, kid, refresh)
        if candidates or kid is None:
            break
    if not candidates:
        raise _Refused("No key of this client matches the request object's signature.")
    for key in candidates:
        try:
            verified = jws.deserialize_compact(token, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError):
            continue
        try:
            return json.loads(verified.payload)
        except ValueError:
            raise _Refused("The request object's payload is not JSON.") from None
    raise _Refused("The request object's signature does not verify.")


def _keys_for(application, alg: str, kid, refresh: bool) -> list:
    """The client's public keys that could have made this signature (the kid's, else every one of the type)."""
    try:
        document = client_keys.key_set(application, refresh=refresh)
        keys = KeySet.import_key_set(document).keys
    except client_keys.KeysUnavailable:
        raise _Refused("The client's keys cannot be had.") from None
    except (JoseError, ValueError, TypeError, KeyError):
        raise _Refused("The client's keys cannot be read.") from None
    key_type = KEY_TYPES[alg[:2]]
    found = []
    for key in keys:
        if key.key_type != key_type or key.get("use", "sig") != "sig" or key.get("alg", alg) != alg:
            continue
        if kid is None or key.kid == kid:
            found.append(key)
    return found


def _check_claims(claims: dict, client_id: str) -> None:
    """RFC 9101 §4, §6.3 and OpenID Connect Core §6.1, §6.3.2: who made it, for whom, until when."""
    if "request" in claims or "request_uri" in claims:
        # RFC 9101 §4: request and request_uri MUST NOT be included in request objects.
        raise _Refused("A request object must not hold 'request' or 'request_uri'.")
    if "client_id" in claims and claims["client_id"] != client_id:
        # RFC 9101 §6.3: the client_id parameter and the object's client_id MUST be identical.
        raise _Refused("The request object was made for another client.")
    if "iss" in claims and claims["iss"] != client_id:
        raise _Refused("The request object's iss is not the client.")
    if "aud" in claims:
        issuer, audience = current_app.config["ISSUER"], claims["aud"]
        # OpenID Connect Core §6.1: the aud value SHOULD be or include the OP's Issuer Identifier.
        if not (audience == issuer or (isinstance(audience, list) and issuer in audience)):
            raise _Refused("The request object's aud is not this server.")
    at = now().timestamp()
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _Refused(f"The request object's {name} is not a number.")
    if "exp" in claims and claims["exp"] + CLOCK_SKEW <= at:
        raise _Refused("The request object has expired.")
    if "nbf" in claims and claims["nbf"] - CLOCK_SKEW > at:
        raise _Refused("The request object is not valid yet.")


def _as_parameter(name: str, value) -> str:
    """A claim as the string the parameter would have been (claims is JSON, max_age a number)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if name == "claims" and isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    raise _Refused(f"The request object's {name if name.isascii() and name.isidentifier() else 'member'} "
                   "is not a string.")


def _merge(datalist: dict, claims: dict, client_id: str) -> dict[str, list[str]]:
    """The parameters the request goes on with.

    OpenID Connect requests (openid in the query's scope): the query's parameters, each replaced by
    the object's when it has one (OpenID Connect Core §6.3.3); response_type and client_id MUST be
    in the query and match the object's (§6.1). Other requests: the object's parameters only, and
    client_id (RFC 9101 §6.3).
    """
    from_object = {name: [_as_parameter(name, value)] for name, value in claims.items() if name not in JWT_CLAIMS}
    query = {name: list(values) for name, values in datalist.items() if name not in ("request", "request_uri")}
    if "openid" not in (query.get("scope") or [""])[0].split():
        return {**from_object, "client_id": [client_id]}
    response_type = query.get("response_type")
    if not response_type:
        raise InvalidRequestError("An OpenID Connect request object needs response_type in the query too.")
    if "response_type" in from_object and from_object["response_type"] != response_type:
        raise InvalidRequestError("The response_type in the query and in the request object differ.")
    return {**query, **from_object}
