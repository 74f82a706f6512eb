"""/.well-known/jwks.json, /publickey, `flask keys ...`, and verification by outside code."""

import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import jwt as pyjwt
import pytest
import time_machine
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwcrypto import jwk
from sqlalchemy import func
from sqlalchemy import select

from app.clock import now
from app.extensions import db
from keys import crypto
from keys import ring
from keys import rotation
from keys.models import SigningKey

from ..helpers import production_only

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ring_app(make_app):
    app = make_app(KEY_RING_CHECK_INTERVAL=0)
    with app.app_context():
        ring.ensure_ready()
    return app


def every_state(app):
    """Leave one key in each published state: retired, current, next (the JWKS at a later time)."""
    with app.app_context():
        rotation.rotate_now(app.config["KEY_ENCRYPTION_SECRET"])
    with time_machine.travel(now() + timedelta(days=30) - timedelta(seconds=app.config["JWKS_MAX_AGE"])):
        with app.app_context():
            ring.ensure_ready()


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_jwks_never_contains_private_members(make_app, alg):
    # A retired key outlives the time to the next rotation only when tokens live that long.
    app = make_app(SIGNING_ALG=alg, KEY_RING_CHECK_INTERVAL=0, ID_TOKEN_TTL=31 * 86400)
    with app.app_context():
        ring.ensure_ready()
    every_state(app)
    response = app.test_client().get("/.well-known/jwks.json")
    keys = response.get_json()["keys"]
    assert len(keys) == 3
    for key in keys:
        assert set(key) & PRIVATE_MEMBERS == set(), key
        assert {"kid", "kty", "alg", "use"} <= set(key) and key["use"] == "sig" and key["alg"] == alg
        assert not jwk.JWK(**key).has_private
    assert "\"d\"" not in response.text


def test_jwks_is_cacheable_with_etag(ring_app):
    client = ring_app.test_client()
    first = client.get("/.well-known/jwks.json")
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/json"
    assert first.headers["Cache-Control"] == "public, max-age=3600"
    etag = first.headers["ETag"]
    again = client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/.well-known/jwks.json", headers={"If-None-Match": '"stale"'}).status_code == 200
    with ring_app.app_context():
        rotation.rotate_now(ring_app.config["KEY_ENCRYPTION_SECRET"])
    changed = client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_publickey_returns_the_key_as_pem(ring_app):
    client = ring_app.test_client()
    [published] = client.get("/.well-known/jwks.json").get_json()["keys"]
    response = client.get(f"/publickey?keyId={published['kid']}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-pem-file"
    assert response.data.startswith(b"-----BEGIN PUBLIC KEY-----")
    numbers = load_pem_public_key(response.data).public_numbers()
    assert numbers.n == jwk.JWK(**published).get_op_key("verify").public_numbers().n


@pytest.mark.parametrize("query, status", [("", 400), ("?keyId=", 400), ("?keyId=unknown-kid", 404),
                                           ("?keyId=" + "x" * 500, 404)],
                         ids=["missing", "empty", "unknown", "oversized"])
def test_publickey_errors_are_problem_json(ring_app, query, status):
    response = ring_app.test_client().get(f"/publickey{query}")
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"


def test_revoked_key_is_gone_at_once(ring_app):
    """`flask keys rotate --revoke`: the old key leaves the JWKS and its tokens stop verifying."""
    with ring_app.app_context():
        token = ring.sign({"sub": "compromised"})
        old = ring.signing_jwk()["kid"]
    result = ring_app.test_cli_runner().invoke(args=["keys", "rotate", "--revoke", "--json"])
    assert result.exit_code == 0, result.output
    new = json.loads(result.output)["kid"]
    client = ring_app.test_client()
    assert [key["kid"] for key in client.get("/.well-known/jwks.json").get_json()["keys"]] == [new]
    assert client.get(f"/publickey?keyId={old}").status_code == 404
    with ring_app.app_context():
        with pytest.raises(ring.InvalidSignature):
            ring.verify(token)


def test_rotate_without_revoke_keeps_the_old_key_published(ring_app):
    with ring_app.app_context():
        token = ring.sign({"sub": "kept"})
    assert ring_app.test_cli_runner().invoke(args=["keys", "rotate"]).exit_code == 0
    listing = json.loads(ring_app.test_cli_runner().invoke(args=["keys", "list", "--json"]).output)["keys"]
    assert [key["state"] for key in listing] == ["current", "retired"]
    assert listing[1]["remove_after"] is not None
    with ring_app.app_context():
        assert ring.verify(token) == {"sub": "kept"}


def test_reencrypt_reseals_every_key(ring_app, make_app):
    with ring_app.app_context():
        token = ring.sign({"sub": "resealed"})
    new_secret = "a brand new key encryption secret, long enough"
    result = ring_app.test_cli_runner().invoke(args=["keys", "reencrypt", "--new-secret", new_secret])
    assert result.exit_code == 0 and "Resealed 1 keys" in result.output
    with ring_app.app_context():
        sealed = db.session.scalar(select(SigningKey.private_jwe))
        with pytest.raises(crypto.SealBroken):
            crypto.unseal(sealed, ring_app.config["KEY_ENCRYPTION_SECRET"])
    moved = make_app(KEY_ENCRYPTION_SECRET=new_secret)
    assert moved.test_cli_runner().invoke(args=["bootstrap"]).exit_code == 0
    with moved.app_context():
        assert ring.verify(ring.sign({"sub": "after"})) == {"sub": "after"}
        assert ring.verify(token) == {"sub": "resealed"}


def test_reencrypt_refuses_short_secret_and_wrong_current_secret(ring_app, make_app):
    short = ring_app.test_cli_runner().invoke(args=["keys", "reencrypt", "--new-secret", "short"])
    assert short.exit_code == 1 and "at least 32" in short.output
    wrong = make_app(KEY_ENCRYPTION_SECRET="this is not the secret that sealed them")
    result = wrong.test_cli_runner().invoke(args=["keys", "reencrypt", "--new-secret", "n" * 40])
    assert result.exit_code == 1 and "nothing was changed" in result.output


def test_external_verifier_reads_the_jwks_over_http(live_server):
    """A resource server with PyJWT's PyJWKClient verifies a token the ring signed."""
    with live_server.app.app_context():
        token = ring.sign({"sub": "frank", "iss": live_server.url, "aud": "api"}, typ="at+jwt")
    client = pyjwt.PyJWKClient(f"{live_server.url}/.well-known/jwks.json")
    key = client.get_signing_key_from_jwt(token)
    claims = pyjwt.decode(token, key, algorithms=["RS256"], audience="api", issuer=live_server.url)
    assert claims["sub"] == "frank"


SCRIPT = """
import sys, time
from app import create_app
from keys import rotation
app = create_app()
start = float(sys.argv[1])
with app.app_context():
    while time.time() < start:
        pass
    print(rotation.step(app.config["KEY_ENCRYPTION_SECRET"]))
"""


@production_only
def test_two_processes_rotating_together_make_one_key(backend, make_app):
    """Real processes on PostgreSQL: the due step is taken once."""
    app = make_app()
    with time_machine.travel(now() - timedelta(days=31), tick=False):
        with app.app_context():
            ring.ensure_ready()  # activated 31 days ago: a successor is due
    env = {**os.environ, **{key: str(value) for key, value in backend.config.items() if value}}
    start = time.time() + 2
    runs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(start)], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = sorted(run.communicate(timeout=60)[0].strip() for run in runs)
    assert outputs == ["False", "True"]
    with app.app_context():
        counts = dict(db.session.execute(select(SigningKey.state, func.count()).group_by(SigningKey.state)).all())
    assert counts == {"current": 1, "next": 1}
