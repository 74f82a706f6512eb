"""Fixtures for the protocol: registered clients and a signed-in browser."""

from types import SimpleNamespace

import pytest

from oauth import clients

from ..helpers import AuthActions


@pytest.fixture
def make_client(app):
    """Register an application through the service; returns its id, secret and redirect URIs."""

    def factory(public=False, redirect_uris=("https://app.example.com/callback",), grant_types=None,
                scope=None, skip_consent=False, post_logout_redirect_uris=(), name="Example App",
                introspect=False):
        with app.app_context():
            application, secret = clients.register(
                name, list(redirect_uris), public=public, grant_types=grant_types, scope=scope,
                post_logout_redirect_uris=list(post_logout_redirect_uris), skip_consent=skip_consent,
                introspect=introspect)
            return SimpleNamespace(client_id=application.client_id, client_secret=secret,
                                   redirect_uris=list(application.redirect_uris), public=public)

    return factory


@pytest.fixture
def signed_in(client, user):
    """A test client signed in as ``user``."""
    assert AuthActions(client).login(user.email, user.password).status_code == 303
    return client
