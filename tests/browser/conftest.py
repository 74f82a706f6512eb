"""Browser fixtures: the identity server on a real port (plain, or behind a TLS front as in
production), and third-party applications with their own loopback web servers (Playwright cannot
intercept the redirect that leads to them)."""

import datetime
import ipaddress
import ssl
import threading
from types import SimpleNamespace

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.middleware.http_proxy import ProxyMiddleware
from werkzeug.serving import make_server
from werkzeug.wrappers import Request
from werkzeug.wrappers import Response

from oauth import clients

from ..helpers import free_port


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
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        app = make_app(ISSUER=url, **settings)
        started.append(serve(app, port))
        return SimpleNamespace(url=url, app=app, ca_file=None)

    yield factory
    for http, thread in started:
        http.shutdown()
        thread.join()


@pytest.fixture
def server(idp_server):
    """The identity server with the default settings."""
    return idp_server()


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1: the certificate file (also the CA file that trusts
    it) and the private key file."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return SimpleNamespace(cert_file=str(folder / "cert.pem"), key_file=str(folder / "key.pem"))


@pytest.fixture
def https_server(make_app, tls_certificate):
    """The production shape: the identity server on plain HTTP behind a TLS-terminating front that
    forwards every request with ``X-Forwarded-Proto: https`` and the browser's Host; the app trusts
    that one hop (TRUSTED_PROXY_HOPS=1) and its ISSUER is the front's https URL."""
    front_port = free_port()
    url = f"https://127.0.0.1:{front_port}"
    app = make_app(ISSUER=url, TRUSTED_PROXY_HOPS=1)
    backend, backend_thread = serve(app)
    forward = {"target": f"http://127.0.0.1:{backend.server_port}", "host": None, "remove_prefix": False,
               "headers": {"X-Forwarded-Proto": "https"}, "ssl_context": None}
    proxy = ProxyMiddleware(None, {})

    def front(environ, start_response):
        return proxy.proxy_to(forward, environ["PATH_INFO"], "/")(environ, start_response)

    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tls_certificate.cert_file, tls_certificate.key_file)
    http = make_server("127.0.0.1", front_port, front, threaded=True, ssl_context=tls)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield SimpleNamespace(url=url, app=app, ca_file=tls_certificate.cert_file)
    for server, server_thread in ((http, thread), (backend, backend_thread)):
        server.shutdown()
        server_thread.join()


@pytest.fixture
def make_application():
    """A third-party application on its own loopback port, registered on ``server``; it records the
    callback queries it receives and the Referer each came with."""
    started = []

    def factory(server, name, skip_consent=False, post_logout_redirect_uris=()):
        received, referrers = [], []

        @Request.application
        def callback(request):
            if request.path == "/callback":  # not /favicon.ico
                received.append(request.query_string.decode())
                referrers.append(request.headers.get("Referer"))
            return Response(f"<!doctype html><title>{name}</title><h1>{name}</h1>", mimetype="text/html")

        http, thread = serve(callback)
        started.append((http, thread))
        origin = f"http://127.0.0.1:{http.server_port}"
        with server.app.app_context():
            application, secret = clients.register(
                name, [f"{origin}/callback"], skip_consent=skip_consent,
                post_logout_redirect_uris=[origin + path for path in post_logout_redirect_uris])
            return SimpleNamespace(client_id=application.client_id, client_secret=secret, name=name,
                                   redirect_uris=list(application.redirect_uris), origin=origin,
                                   received=received, referrers=referrers)

    yield factory
    for http, thread in started:
        http.shutdown()
        thread.join()


def exchange(server, application, request, code: str) -> dict:
    """The application's back channel: the code for tokens, the ID token verified against the JWKS."""
    response = requests.post(f"{server.url}/oauth/token", timeout=10, verify=server.ca_file or True,
                             auth=(application.client_id, application.client_secret),
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": request.redirect_uri, "code_verifier": request.verifier})
    assert response.status_code == 200, response.text
    id_token = response.json()["id_token"]
    jwks = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json",
                           ssl_context=ssl.create_default_context(cafile=server.ca_file))
    key = jwks.get_signing_key_from_jwt(id_token)
    return jwt.decode(id_token, key.key, algorithms=["RS256"], audience=application.client_id, issuer=server.url)
