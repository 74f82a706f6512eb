"""Client authentication with a signed JWT: ``private_key_jwt`` and ``client_secret_jwt``.

RFC 7523 §2.2 and §3, RFC 7521 §4.2, OpenID Connect Core §9. The client sends
``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`` and
``client_assertion=<JWT>`` in the body, instead of a secret. The JWT is signed with a private key
whose public half the client registered (``jwks`` / ``jwks_uri``), or with its secret as an HMAC key
(the server holds that secret sealed). What is checked, in order, each refusal a 401
``invalid_client`` saying which check failed:

- the JWT parses; ``iss`` = ``sub`` = the client_id (and = ``client_id`` when the body names one);
- the client is registered for this method (OpenID Connect Core §9: the registered one, and only it);
- ``alg`` is the registered ``token_endpoint_auth_signing_alg``, else one of the method's family:
  asymmetric for ``private_key_jwt``, HMAC for ``client_secret_jwt``, never ``none`` (so a JWT MACed
  with a client's public key is refused before any key is looked at);
- the signature verifies; ``aud`` names this server (its issuer, its token endpoint, or the
  endpoint the request was sent to); ``exp`` is present, not past and at most
  CLIENT_ASSERTION_MAX_LIFETIME ahead; ``jti`` is present and never seen before for this client.

A used ``jti`` is recorded on a connection of its own, committed at once: the assertion is spent
even when the rest of the request fails, and of concurrent requests with one assertion, exactly
one wins (the unique pair in ``client_assertion_uses``).
"""

import hashlib
import json
import math
import threading
import time
import uuid
from datetime import datetime
from datetime import timezone

from authlib.oauth2.base import invalid_error_characters
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import current_app
from flask import request as flask_request
from joserfc import jws
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jwk import OctKey
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from app.clock import now
from app.extensions import db

from . import client_keys
from . import clients
from .models import ClientAssertionUse

ASSERTION_TYPE = JWTBearerClientAssertion.CLIENT_ASSERTION_TYPE
# Far more than any signature and a few claims need (an RSA-4096 signature is 683 characters).
MAX_ASSERTION_CHARS = 8192
MAX_JTI_CHARS = 256
# Clock skew allowed on exp (and nbf), in seconds; a spent jti is kept this much beyond its exp.
LEEWAY = 60
PURGE_INTERVAL = 60.0
_purged = {"at": 0.0}
_purge_lock = threading.Lock()


def presented(request) -> bool:
    """Whether the request tries to authenticate its client with an assertion."""
    form = request.form
    return "client_assertion" in form or "client_assertion_type" in form


def _refused(description: str) -> InvalidClientError:
    # RFC 7521 §4.2.1: an assertion that is not valid is invalid_client; 401, as for Basic.
    # RFC 6749 §5.2 allows only some ASCII in a description (Authlib raises on others): a reason
    # quoting a library's message or a fetched document is made to fit.
    fitted = "".join("'" if char == '"' else "?" if invalid_error_characters(char) else char for char in description)
    return InvalidClientError(status_code=401, description=fitted)


class _Parsed:
    def __init__(self, value: str, header: dict, claims: dict):
        self.value = value
        self.header = header
        self.claims = claims


def _parse(request) -> _Parsed:
    """The assertion's header and (unverified) claims, or the error saying what is wrong."""
    parsed = getattr(request, "_client_assertion", None)
    if parsed is not None:
        return parsed
    form = request.form
    kind, value = form.get("client_assertion_type"), form.get("client_assertion")
    # RFC 7521 §4.2: both parameters are REQUIRED; a missing one or an unknown type is a malformed
    # request (RFC 6749 §5.2 invalid_request), not a failed authentication.
    if kind != ASSERTION_TYPE:
        raise InvalidRequestError(f"client_assertion_type must be {ASSERTION_TYPE}.")
    if not value:
        raise InvalidRequestError("client_assertion is missing.")
    if len(value) > MAX_ASSERTION_CHARS:
        raise _refused("The client assertion is too large.")
    try:
        compact = jws.extract_compact(value.encode("ascii"))
        header = compact.headers()
        claims = json.loads(compact.payload)
    except (JoseError, ValueError, TypeError, KeyError, AttributeError):  # UnicodeError is a ValueError
        raise _refused("The client assertion is not a signed JWT.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _refused("The client assertion is not a signed JWT.")
    parsed = request._client_assertion = _Parsed(value, header, claims)
    return parsed


def authenticator(method: str):
    """Authlib's client authentication function for ``method`` (private_key_jwt or client_secret_jwt).

    Returns the client when the assertion authenticates it with ``method``, None when the request
    has no assertion or its client is registered for the other JWT method; raises otherwise."""

    def authenticate(query_client, request):
        if not presented(request):
            return None
        assertion = _parse(request)
        client = _client_of(query_client, request, assertion.claims)
        registered = client.token_endpoint_auth_method
        if registered not in clients.ASSERTION_AUTH_METHODS:
            raise _refused(f"This client is registered for {registered}; it cannot authenticate with a client "
                           f"assertion.")
        if registered != method:
            return None
        alg = _algorithm(client, method, assertion.header)
        if method == "private_key_jwt":
            _verify_signature(assertion, alg, lambda refresh: _public_keys(client, refresh),
                              kid=assertion.header.get("kid"))
        else:
            secret = clients.hmac_secret(client)
            if secret is None:
                raise _refused("The server holds no secret for this client; rotate its secret.")
            _verify_signature(assertion, alg, lambda refresh: [OctKey.import_key(secret)], kid=None)
        _check_claims(client, assertion.claims)
        return client

    return authenticate


def _client_of(query_client, request, claims: dict):
    subject, issuer = claims.get("sub"), claims.get("iss")
    # RFC 7523 §3 (1, 2) and OpenID Connect Core §9: iss and sub MUST both be the client_id.
    if not isinstance(subject, str) or not subject:
        raise _refused("The client assertion has no sub (the client_id).")
    if issuer != subject:
        raise _refused("The client assertion's iss and sub must both be the client_id.")
    # RFC 7521 §4.2: a client_id sent beside the assertion must name the same client.
    named = request.form.get("client_id")
    if named is not None and named != subject:
        raise _refused("client_id does not match the client assertion's sub.")
    client = query_client(subject)
    if client is None:
        raise _refused("The client does not exist on this server.")
    return client


def _algorithm(client, method: str, header: dict) -> str:
    alg = header.get("alg")
    family = clients.ASYMMETRIC_ALGS if method == "private_key_jwt" else clients.HMAC_ALGS
    allowed = (client.token_endpoint_auth_signing_alg,) if client.token_endpoint_auth_signing_alg else family
    if not isinstance(alg, str) or alg not in allowed:
        raise _refused(f"The client assertion for {method} must be signed with {' or '.join(allowed)}.")
    return alg


def _public_keys(client, refresh: bool) -> list:
    try:
        return list(KeySet.import_key_set(client_keys.key_set(client, refresh=refresh)).keys)
    except client_keys.KeysUnavailable as error:
        raise _refused(f"The client's public keys cannot be had: {error}") from None


def _candidates(keys: list, alg: str, kid) -> list:
    """The keys that may have made the signature: the one named by kid, else every signing key
    that fits ``alg`` (a client with one key need not name it)."""
    fitting = [key for key in keys if key.get("use") in (None, "sig") and key.get("alg") in (None, alg)]
    if isinstance(kid, str):
        return [key for key in fitting if key.kid == kid]
    return fitting


def _verify_signature(assertion: _Parsed, alg: str, keys_for, kid) -> None:
    candidates = _candidates(keys_for(False), alg, kid)
    if not candidates and isinstance(kid, str):
        # An unknown kid: the client may have rotated its keys; its jwks_uri is read again (rate-limited).
        candidates = _candidates(keys_for(True), alg, kid)
    for key in candidates:
        try:
            jwt.decode(assertion.value, key, algorithms=[alg])
            return
        except (JoseError, ValueError, TypeError, KeyError):
            continue
    raise _refused("The client assertion's signature does not verify with the client's keys.")


def audiences() -> set[str]:
    """Who an assertion may be addressed to: this server by its issuer, its token endpoint, or the
    endpoint the request came to (revocation, introspection)."""
    issuer = current_app.config["ISSUER"]
    return {issuer, f"{issuer}/oauth/token", f"{issuer}{flask_request.path}"}


def _check_claims(client, claims: dict) -> None:
    at = int(now().timestamp())
    registry = jwt.JWTClaimsRegistry(
        now=at, leeway=LEEWAY, iss={"essential": True}, sub={"essential": True}, jti={"essential": True},
        aud={"essential": True, "values": sorted(audiences())}, exp={"essential": True})
    try:
        registry.validate(claims)
    except JoseError as error:
        raise _refused(f"The client assertion is not acceptable: {error.description or error.error}") from None
    exp, jti = claims["exp"], claims["jti"]
    if isinstance(exp, bool) or not isinstance(exp, (int, float)) or not math.isfinite(exp):
        raise _refused("The client assertion's exp must be a number.")
    # Bounded, so that a spent jti need only be kept a short while.
    if exp > at + current_app.config["CLIENT_ASSERTION_MAX_LIFETIME"] + LEEWAY:
        raise _refused(f"The client assertion expires too far in the future (at most "
                       f"{current_app.config['CLIENT_ASSERTION_MAX_LIFETIME']} s).")
    if not jti or len(jti) > MAX_JTI_CHARS:
        raise _refused(f"The client assertion's jti must be 1 to {MAX_JTI_CHARS} characters.")
    # RFC 7523 §3 (7): the server may ensure the JWT is not replayed, by the jti; here it must not be.
    if not _first_use(client.id, jti, datetime.fromtimestamp(exp + LEEWAY, tz=timezone.utc)):
        raise _refused("The client assertion was used before (its jti is spent).")


def _first_use(application_id: uuid.UUID, jti: str, expires_at: datetime) -> bool:
    """Record the jti as spent, committed at once on a connection of its own; False if it already was."""
    at = now()
    digest = hashlib.sha256(jti.encode()).hexdigest()
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(ClientAssertionUse.__table__).values(
                id=uuid.uuid4(), application_id=application_id, jti_hash=digest, expires_at=expires_at,
                created_at=at, updated_at=at))
    except IntegrityError:
        return False
    _purge_expired(at)
    return True


def _purge_expired(at: datetime) -> None:
    """At most once a PURGE_INTERVAL per process: drop spent jtis whose assertions have expired."""
    with _purge_lock:
        if time.monotonic() - _purged["at"] < PURGE_INTERVAL:
            return
        _purged["at"] = time.monotonic()
    with db.engine.begin() as connection:
        connection.execute(delete(ClientAssertionUse.__table__).where(ClientAssertionUse.expires_at < at))
