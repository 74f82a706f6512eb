"""The key ring's lifecycle with a controlled clock: publish before signing, verify until removal."""

import base64
import json
from datetime import timedelta

import pytest
from jwcrypto import jwt
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import update

from app.clock import now
from app.extensions import db
from keys import crypto
from keys import ring
from keys import rotation
from keys.models import SigningKey

DAY = 86400
LEAD = 3600  # JWKS_MAX_AGE
RETENTION = 3600 + 300  # longest token lifetime (ID_TOKEN_TTL) + clock skew allowance
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


@pytest.fixture
def ring_app(make_app):
    return make_app(KEY_ROTATION_DAYS=30, JWKS_MAX_AGE=LEAD, ACCESS_TOKEN_TTL=900, ID_TOKEN_TTL=3600,
                    KEY_RING_CHECK_INTERVAL=0)


def published(app) -> list[dict]:
    return app.test_client().get("/.well-known/jwks.json").get_json()["keys"]


def signing_kid(app) -> str:
    with app.app_context():
        token = ring.sign({"sub": "probe"})
        return crypto_header(token)["kid"]


def crypto_header(token: str) -> dict:
    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


def states(app) -> dict[str, str]:
    with app.app_context():
        return {key.kid: key.state for key in db.session.scalars(select(SigningKey))}


def test_first_key_signs_at_once_and_is_published(ring_app, clock):
    """A new install has no cached JWKS anywhere, so its first key may sign immediately."""
    kid = signing_kid(ring_app)
    keys = published(ring_app)
    assert [key["kid"] for key in keys] == [kid]
    assert {key: keys[0][key] for key in ("kty", "alg", "use")} == {"kty": "RSA", "alg": "RS256", "use": "sig"}
    with ring_app.app_context():
        stored = db.session.scalar(select(SigningKey))
        pair = crypto.unseal(stored.private_jwe, ring_app.config["KEY_ENCRYPTION_SECRET"])
        assert crypto.kid_of(pair) == kid  # RFC 7638 thumbprint


def test_next_key_is_published_before_it_signs(ring_app, clock):
    first = signing_kid(ring_app)
    clock.shift(30 * DAY - LEAD - 1)
    assert [key["kid"] for key in published(ring_app)] == [first]
    clock.shift(1)
    kids = [key["kid"] for key in published(ring_app)]
    assert len(kids) == 2 and kids[0] == first
    upcoming = kids[1]
    assert signing_kid(ring_app) == first
    clock.shift(LEAD - 1)
    assert signing_kid(ring_app) == first  # published for less than JWKS_MAX_AGE: not yet
    clock.shift(1)
    assert signing_kid(ring_app) == upcoming
    assert states(ring_app) == {first: "retired", upcoming: "current"}


def test_next_key_waits_a_full_cache_lifetime_even_when_rotation_is_overdue(ring_app, clock):
    """A server idle past its rotation date still publishes the successor before it signs."""
    first = signing_kid(ring_app)
    clock.shift(45 * DAY)
    assert signing_kid(ring_app) == first
    assert len(published(ring_app)) == 2
    clock.shift(LEAD)
    assert signing_kid(ring_app) != first


def test_token_signed_before_rotation_verifies_until_its_key_is_removed(ring_app, clock):
    with ring_app.app_context():
        token = ring.sign({"sub": "alice"})  # no exp: only the key's lifetime limits it here
    clock.shift(30 * DAY)  # the successor is published now ...
    signing_kid(ring_app)
    clock.shift(LEAD)  # ... and signs now; the old key is retired
    signing_kid(ring_app)
    clock.shift(RETENTION - 1)
    with ring_app.app_context():
        assert ring.verify(token) == {"sub": "alice"}
    clock.shift(1)
    with ring_app.app_context():
        with pytest.raises(ring.InvalidSignature):
            ring.verify(token)


def test_retired_key_leaves_the_jwks_after_the_longest_token_lifetime_not_before(ring_app, clock):
    first = signing_kid(ring_app)
    clock.shift(30 * DAY)
    signing_kid(ring_app)
    clock.shift(LEAD)
    second = signing_kid(ring_app)
    clock.shift(RETENTION - 1)
    assert [key["kid"] for key in published(ring_app)] == [second, first]
    clock.shift(1)
    assert [key["kid"] for key in published(ring_app)] == [second]
    assert states(ring_app)[first] == "removed"


def test_expired_token_is_refused(ring_app, clock):
    with ring_app.app_context():
        token = ring.sign({"sub": "bob", "exp": int(now().timestamp()) + 900})
        assert ring.verify(token)["sub"] == "bob"  # its verdict is kept: expiry is still checked at each use
    clock.shift(900 + 61)  # past exp and jwcrypto's 60 s leeway
    with ring_app.app_context():
        with pytest.raises(ring.InvalidSignature):
            ring.verify(token)


def test_a_kept_verdict_checks_the_clock_claims_at_each_use(ring_app, clock):
    """A kept verdict skips only the checks the clock cannot change: nbf and iat in the future are
    refused (with the 60 s leeway) until they are not, exp once it passes, malformed claims always."""
    at = int(now().timestamp())
    with ring_app.app_context():
        early = ring.sign({"sub": "frank", "nbf": at + 120, "iat": at + 120, "exp": at + 900})
        malformed = ring.sign({"sub": 5, "exp": at + 900})
        for _ in range(2):
            with pytest.raises(ring.InvalidSignature):
                ring.verify(early)
            with pytest.raises(ring.InvalidSignature):
                ring.verify(malformed)
    clock.shift(61)
    with ring_app.app_context():
        assert ring.verify(early)["sub"] == ring.verify(early)["sub"] == "frank"
    clock.shift(900 - 61 + 60)
    with ring_app.app_context():
        with pytest.raises(ring.InvalidSignature):
            ring.verify(early)
        assert ring.verify(early, accept_expired=True)["sub"] == "frank"


def test_a_kept_verdict_still_checks_the_type_and_hands_out_a_copy(ring_app):
    with ring_app.app_context():
        token = ring.sign({"sub": "carol"}, typ="at+jwt")
        claims = ring.verify(token, typ="at+jwt")
        claims["sub"] = "mallory"
        assert ring.verify(token, typ="at+jwt") == {"sub": "carol"}
        with pytest.raises(ring.InvalidSignature):
            ring.verify(token, typ="JWT")


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."],
                         ids=["empty", "garbage", "three-parts", "alg-none"])
def test_garbage_tokens_are_refused(ring_app, token):
    with ring_app.app_context():
        with pytest.raises(ring.InvalidSignature):
            ring.verify(token)


def test_token_signed_by_an_unpublished_key_is_refused(ring_app):
    stranger = crypto.generate("RS256")
    forged = jwt.JWT(header={"alg": "RS256", "kid": signing_kid(ring_app)}, claims={"sub": "mallory"})
    forged.make_signed_token(stranger)
    with ring_app.app_context():
        with pytest.raises(ring.InvalidSignature):
            ring.verify(forged.serialize())


def test_es256_keys(make_app, clock):
    app = make_app(SIGNING_ALG="ES256", KEY_RING_CHECK_INTERVAL=0)
    with app.app_context():
        token = ring.sign({"sub": "carol"}, typ="at+jwt")
        assert ring.verify(token) == {"sub": "carol"}
    header = crypto_header(token)
    assert header["alg"] == "ES256" and header["typ"] == "at+jwt"
    [key] = published(app)
    assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-256", "ES256")


def test_changing_the_algorithm_retires_the_old_key(make_app, clock):
    rsa_app = make_app(SIGNING_ALG="RS256", KEY_RING_CHECK_INTERVAL=0)
    rsa_kid = signing_kid(rsa_app)
    with rsa_app.app_context():
        rsa_token = ring.sign({"sub": "dave"})
    ec_app = make_app(SIGNING_ALG="ES256", KEY_RING_CHECK_INTERVAL=0)
    ec_kid = signing_kid(ec_app)
    assert states(ec_app) == {rsa_kid: "retired", ec_kid: "current"}
    with ec_app.app_context():
        assert ring.verify(rsa_token) == {"sub": "dave"}


def test_the_ring_is_not_reloaded_per_request(make_app, clock):
    """Within KEY_RING_CHECK_INTERVAL nothing touches the database; after it, one small query."""
    app = make_app(KEY_RING_CHECK_INTERVAL=10)
    statements = []
    with app.app_context():
        ring.sign({"sub": "warm-up"})
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        for _ in range(5):
            ring.verify(ring.sign({"sub": "erin"}))
        assert statements == []
        clock.shift(10)
        ring.sign({"sub": "erin"})
        assert len(statements) == 1 and "count" in statements[0].lower()


def test_an_unannounced_change_is_seen_after_the_interval(make_app, clock):
    """The periodic check is the safety net for a notice that never arrived (here: an edit in SQL)."""
    app = make_app(KEY_RING_CHECK_INTERVAL=10)
    first = signing_kid(app)
    clock.shift(1)
    with app.app_context():
        db.session.execute(update(SigningKey).where(SigningKey.kid == first)
                           .values(state="removed", updated_at=now()))
        db.session.commit()
    assert signing_kid(app) == first
    clock.shift(9)
    assert signing_kid(app) != first


def test_private_keys_are_sealed_at_rest(ring_app):
    signing_kid(ring_app)
    with ring_app.app_context():
        stored = db.session.scalar(select(SigningKey))
        assert set(stored.public_jwk) & PRIVATE_MEMBERS == set()
        assert stored.private_jwe.count(".") == 4  # compact JWE
        with pytest.raises(crypto.SealBroken):
            crypto.unseal(stored.private_jwe, "some other secret of enough length")


def test_wrong_key_encryption_secret_is_refused_and_creates_nothing(make_app):
    """A wrong secret stops `flask bootstrap` with a clear message instead of minting new keys."""
    good = make_app()
    assert good.test_cli_runner().invoke(args=["bootstrap"]).exit_code == 0
    before = states(good)
    wrong = make_app(KEY_ENCRYPTION_SECRET="not the secret these keys were sealed with")
    result = wrong.test_cli_runner().invoke(args=["bootstrap"])
    assert result.exit_code == 1
    assert "KEY_ENCRYPTION_SECRET does not open the stored signing keys" in result.output
    assert states(wrong) == before
    with wrong.app_context():
        with pytest.raises(ring.KeyRingUnavailable):
            ring.sign({"sub": "x"})


def test_signing_jwk_for_authlib_is_the_current_private_key(ring_app):
    kid = signing_kid(ring_app)
    with ring_app.app_context():
        key = ring.signing_jwk()
    assert key["kid"] == kid and key["alg"] == "RS256" and "d" in key


def test_remove_after_is_recorded(ring_app, clock):
    signing_kid(ring_app)
    with ring_app.app_context():
        rotation.rotate_now(ring_app.config["KEY_ENCRYPTION_SECRET"])
        retired = db.session.scalar(select(SigningKey).where(SigningKey.state == "retired"))
        assert retired.retired_at == now()
        assert retired.remove_after == now() + timedelta(seconds=RETENTION)
