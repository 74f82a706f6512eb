"""Fixtures of the end-to-end tests: the app served over real HTTP, and applications registered on it."""

import threading
from types import SimpleNamespace

import pytest
from werkzeug.serving import make_server

from oauth import clients

from ..helpers import free_port

REDIRECT_URI = "https://app.example.com/callback"


@pytest.fixture
def server(make_app):
    """The app on a free port in a thread, its ISSUER the URL it is reached at."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = make_app(ISSUER=url)
    http = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=url, app=app)
    http.shutdown()
    thread.join()


@pytest.fixture
def register(server):
    """Register an application on the server; returns its id, secret and redirect URIs."""

    def factory(public=False, grant_types=None, scope=None, redirect_uris=(REDIRECT_URI,),
                post_logout_redirect_uris=(), name="Example App", introspect=False):
        with server.app.app_context():
            application, secret = clients.register(
                name, list(redirect_uris), public=public, grant_types=grant_types, scope=scope,
                post_logout_redirect_uris=list(post_logout_redirect_uris), introspect=introspect)
            return SimpleNamespace(client_id=application.client_id, client_secret=secret,
                                   redirect_uris=list(application.redirect_uris), public=public, name=name)

    return factory


@pytest.fixture
def resource_server(register):
    """A confidential client that only introspects (a resource server)."""
    return register(grant_types=["client_credentials"], redirect_uris=(), name="Resource Server", introspect=True)
