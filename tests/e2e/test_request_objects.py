"""A signed request object by reference, end to end: a real server over real HTTP, the relying
party's own web server holding the object, the real login and consent pages, and PyJWT checking
the ID token."""

import jwt
from sqlalchemy import select

from app.extensions import db
from oauth import clients
from oauth.models import Application
from tests.helpers import AuthorizationRequest

from ..oauth.test_request_objects import RSA
from ..oauth.test_request_objects import RequestUriServer
from ..oauth.test_request_objects import jwks
from ..oauth.test_request_objects import signed
from .test_oauth_flow import UserAgent
from .test_oauth_flow import exchange


class ByReference(AuthorizationRequest):
    """What the relying party sends: request_uri with response_type, client_id, scope and
    redirect_uri; state, nonce and PKCE only inside the object."""

    request_uri = ""

    @property
    def url(self):
        from urllib.parse import urlencode
        return "/oauth/authorize?" + urlencode({"request_uri": self.request_uri, **{
            name: self.params[name] for name in ("response_type", "client_id", "scope", "redirect_uri")}})


# OIDF: oidcc-request-uri-signed-rs256
def test_signed_request_uri_through_login_and_consent(server, register, user):
    rp_server = RequestUriServer()
    try:
        client = register()
        request_uri = rp_server.url + "/request.jwt"
        with server.app.app_context():
            application = db.session.scalar(select(Application).where(Application.client_id == client.client_id))
            application.jwks, application.request_object_signing_alg = jwks(RSA), "RS256"
            application.request_uris = [request_uri]
            db.session.commit()
            clients.invalidate()
        request = ByReference(client, issuer=server.url)
        request.request_uri = request_uri
        rp_server.serve("/request.jwt", signed({**request.params, "iss": client.client_id, "aud": server.url}))

        query = UserAgent(server.url).authorize(request, user)
        response = exchange(server, client, request, query["code"])
        assert response.status_code == 200, response.text
        keys = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json")
        id_token = response.json()["id_token"]
        claims = jwt.decode(id_token, keys.get_signing_key_from_jwt(id_token).key, algorithms=["RS256"],
                            audience=client.client_id, issuer=server.url)
        assert claims["nonce"] == request.nonce and claims["sub"] == str(user.id)
        assert rp_server.fetches == ["/request.jwt"]  # once: the resumed request was not fetched again
    finally:
        rp_server.close()
