"""Background checks inside a token request leave its transaction alone.

With every check interval at 0, the key ring and the application cache look at the database on
every use, i.e. in the middle of the code exchange and the refresh, between the conditional
update that takes the code (or the refresh token) and the commit that issues the tokens. They
read on their own connection; only the grant's unit of work commits or rolls back.
"""

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import User
from keys import ring
from oauth import clients

from ..helpers import exchange
from ..helpers import get_code
from ..helpers import introspect
from ..helpers import refresh

COLD = {"KEY_RING_CHECK_INTERVAL": 0, "CLIENT_CACHE_CHECK_INTERVAL": 0}


@pytest.fixture
def app(make_app):
    """A bootstrapped server: its signing key exists before the first request."""
    app = make_app(**COLD)
    with app.app_context():
        ring.ensure_ready()
    return app


@pytest.fixture
def confidential(make_client):
    return make_client(skip_consent=True)


@pytest.fixture
def resource_server(make_client):
    return make_client(grant_types=["client_credentials"], redirect_uris=(), name="API", introspect=True)


def test_code_replay_fails_and_revokes_the_first_tokens(signed_in, confidential, resource_server):
    """RFC 6749 §4.1.2: a code is used once; its second use revokes what the first issued."""
    authorization, code = get_code(signed_in, confidential)
    first = exchange(signed_in, confidential, authorization, code)
    assert first.status_code == 200, first.text
    tokens = first.get_json()
    replay = exchange(signed_in, confidential, authorization, code)
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert introspect(signed_in, resource_server, tokens["access_token"]) == {"active": False}
    assert refresh(signed_in, confidential, tokens["refresh_token"]).get_json()["error"] == "invalid_grant"


def test_refresh_replay_ends_the_whole_family(signed_in, confidential, resource_server):
    authorization, code = get_code(signed_in, confidential)
    first = exchange(signed_in, confidential, authorization, code).get_json()
    rotated = refresh(signed_in, confidential, first["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    rotated = rotated.get_json()
    replay = refresh(signed_in, confidential, first["refresh_token"])
    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert refresh(signed_in, confidential, rotated["refresh_token"]).get_json()["error"] == "invalid_grant"
    assert introspect(signed_in, resource_server, rotated["access_token"]) == {"active": False}


def test_cache_checks_keep_pending_changes_of_the_session(app, user, confidential):
    """The ring and the application cache neither commit nor roll back ``db.session``."""
    with app.app_context():
        account = db.session.get(User, user.id)
        account.fullname = "Pending Change"
        db.session.flush()
        ring.verify(ring.sign({"sub": "probe"}))
        ring.jwks()
        assert clients.find(confidential.client_id) is not None
        assert db.session.scalar(select(User.fullname).where(User.id == user.id)) == "Pending Change"
        db.session.rollback()
