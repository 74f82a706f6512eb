"""Browser fixtures: the identity server on a real port, and third-party applications with their
own loopback web servers (Playwright cannot intercept the redirect that leads to them)."""

import socket
import threading
from types import SimpleNamespace

import jwt
import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from oauth import clients


def serve(application, port: int = 0) -> tuple:
    """Serve a WSGI application on 127.0.0.1 in a thread; the server and its thread."""
    http = make_server("127.0.0.1", port, application, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    return http, thread


@pytest.fixture
def idp_server(make_app):
    """Start the identity server on a free loopback port, its ISSUER the URL the browser uses."""
    started = []

    def factory(**settings):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        app = make_app(ISSUER=url, **settings)
        started.append(serve(app, port))
        return SimpleNamespace(url=url, app=app)

    yield factory
    for http, thread in started:
        http.shutdown()
        thread.join()


@pytest.fixture
def server(idp_server):
    """The identity server with the default settings."""
    return idp_server()


@pytest.fixture
def make_application():
    """A third-party application on its own loopback port, registered on ``server``; it records the
    callback queries it receives."""
    started = []

    def factory(server, name, skip_consent=False):
        received = []

        @Request.application
        def callback(request):
            if request.path == "/callback":  # not /favicon.ico
                received.append(request.query_string.decode())
            return Response(f"<!doctype html><title>{name}</title><h1>{name}</h1>", mimetype="text/html")

        http, thread = serve(callback)
        started.append((http, thread))
        redirect_uri = f"http://127.0.0.1:{http.server_port}/callback"
        with server.app.app_context():
            application, secret = clients.register(name, [redirect_uri], skip_consent=skip_consent)
            return SimpleNamespace(client_id=application.client_id, client_secret=secret, name=name,
                                   redirect_uris=list(application.redirect_uris), received=received)

    yield factory
    for http, thread in started:
        http.shutdown()
        thread.join()


def exchange(server, application, request, code: str) -> dict:
    """The application's back channel: the code for tokens, the ID token verified against the JWKS."""
    response = requests.post(f"{server.url}/oauth/token", timeout=10,
                             auth=(application.client_id, application.client_secret),
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": request.redirect_uri, "code_verifier": request.verifier})
    assert response.status_code == 200, response.text
    id_token = response.json()["id_token"]
    key = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json").get_signing_key_from_jwt(id_token)
    return jwt.decode(id_token, key.key, algorithms=["RS256"], audience=application.client_id, issuer=server.url)
