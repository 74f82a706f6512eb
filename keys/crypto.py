"""jwcrypto: generate a key pair, name it by thumbprint, seal and unseal its private half."""

import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwcrypto import jwe
from jwcrypto import jwk
from jwcrypto.common import JWException
from jwcrypto.common import base64url_encode

SEAL_HEADER = {"alg": "A256KW", "enc": "A256GCM", "cty": "jwk+json"}


class SealBroken(RuntimeError):
    """A sealed key does not open: KEY_ENCRYPTION_SECRET is not the one that sealed it."""


def generate(alg: str) -> jwk.JWK:
    """A new key pair for ``alg``: RSA 2048 for RS256, P-256 for ES256."""
    if alg == "RS256":
        key = jwk.JWK.generate(kty="RSA", size=2048)
    elif alg == "ES256":
        key = jwk.JWK.generate(kty="EC", crv="P-256")
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}")
    return key


def kid_of(key: jwk.JWK) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) names the key."""
    return key.thumbprint(hashes.SHA256())


def public_jwk(key: jwk.JWK, alg: str) -> dict:
    """The public members only, with kid, alg and use."""
    members = key.export_public(as_dict=True)
    members.update({"kid": kid_of(key), "alg": alg, "use": "sig"})
    return members


def _wrapping_key(secret: str) -> jwk.JWK:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"idp signing-key seal v1").derive(secret.encode())
    return jwk.JWK(kty="oct", k=base64url_encode(derived))


def seal(key: jwk.JWK, secret: str) -> str:
    """The private key (or a symmetric one: a client_secret_jwt client's secret) as a compact JWE
    under a key derived from ``secret``."""
    exported = key.export_symmetric() if key.get("kty") == "oct" else key.export_private()
    token = jwe.JWE(exported.encode(), protected=json.dumps(SEAL_HEADER))
    token.add_recipient(_wrapping_key(secret))
    return token.serialize(compact=True)


def unseal(sealed: str, secret: str) -> jwk.JWK:
    """Open a sealed key; SealBroken when ``secret`` is not the one it was sealed with."""
    token = jwe.JWE()
    try:
        token.deserialize(sealed, key=_wrapping_key(secret))
    except JWException as error:
        raise SealBroken("a signing key does not decrypt with this KEY_ENCRYPTION_SECRET") from error
    return jwk.JWK.from_json(token.payload.decode())
