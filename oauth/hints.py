"""``id_token_hint`` at the authorization endpoint (OpenID Connect Core §3.1.2.1).

A hint is an ID token this server issued to the requesting client: signed by a key of our ring
(never ``alg: none``, never a MAC: only the ring's public-key algorithms are accepted), with our
issuer and the client among its audiences. It may have expired. It names the user the client
expects (``sub``); what to do with that is the authorization endpoint's business.
"""

import base64
import binascii
import json
from dataclasses import dataclass

from flask import current_app

from keys import ring

# A compact JWS of an ID token is a few hundred bytes to a few KB; anything far longer is not one.
MAX_LENGTH = 8192


@dataclass(frozen=True)
class Hint:
    given: bool = False
    subject: str | None = None  # the user the hint names; None when absent or not a valid hint

    @property
    def invalid(self) -> bool:
        return self.given and self.subject is None

    def names_another_user_than(self, session) -> bool:
        """A valid hint for someone else than the user of ``session`` (or with no session)."""
        return self.subject is not None and (session is None or str(session.user_id) != self.subject)


ABSENT = Hint()
INVALID = Hint(given=True)


def read(value, client_id) -> Hint:
    """The hint in an authorization request; INVALID for anything that is not one of our ID tokens
    issued to ``client_id`` (malformed, foreign-signed, another issuer, another audience)."""
    if value is None or value == "":  # RFC 6749 §3.1: a parameter without a value is omitted
        return ABSENT
    if not isinstance(value, str) or not value or len(value) > MAX_LENGTH or not isinstance(client_id, str):
        return INVALID
    try:
        claims = ring.verify(value, accept_expired=True)
    except ring.InvalidSignature:
        return INVALID
    if _header(value).get("typ") == "at+jwt":  # an access token of ours is no ID token
        return INVALID
    audience = claims.get("aud")
    audiences = [audience] if isinstance(audience, str) else audience if isinstance(audience, list) else []
    subject = claims.get("sub")
    if claims.get("iss") != current_app.config["ISSUER"] or client_id not in audiences \
            or not isinstance(subject, str) or not subject:
        return INVALID
    return Hint(given=True, subject=subject)


def _header(token: str) -> dict:
    """The JOSE header of a compact JWS that has verified already."""
    encoded = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (binascii.Error, ValueError):
        return {}
    return header if isinstance(header, dict) else {}
