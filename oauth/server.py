"""The AuthorizationServer: client lookup, token saving, and requests kept for later."""

from authlib.integrations.flask_oauth2 import AuthorizationServer as BaseAuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Payload
from authlib.oauth2.rfc6749 import OAuth2Request
from werkzeug.datastructures import MultiDict

from app.extensions import db

from . import clients


class StoredPayload(OAuth2Payload):
    def __init__(self, params: dict[str, list[str]]):
        self._data = MultiDict(params)

    @property
    def data(self):
        return self._data

    @property
    def datalist(self):
        return {key: self._data.getlist(key) for key in self._data}


class StoredRequest(OAuth2Request):
    """An authorization request resumed from ``pending_authorizations`` after sign-in or consent."""

    def __init__(self, uri: str, params: dict[str, list[str]]):
        super().__init__("GET", uri, headers={})
        self.payload = StoredPayload(params)

    @property
    def args(self):
        return self.payload.data

    @property
    def form(self):
        return MultiDict()


class AuthorizationServer(BaseAuthorizationServer):
    def create_oauth2_request(self, request):
        # Authlib 1.9's Flask server ignores its argument and reads flask.request; a request the
        # view built (with the user's session attached) or resumed from storage is used as is.
        if isinstance(request, OAuth2Request):
            return request
        return super().create_oauth2_request(request)

    def query_client(self, client_id):
        return clients.find(client_id)

    def save_token(self, token, request):
        """The tokens were added by ``oauth.tokens.issue``; commit them with the code or refresh
        token consumed in the same transaction."""
        db.session.commit()
