"""The account flows meet the protocol: 2FA in the ID token, a reset revokes refresh tokens,
and a registration started from an application's request ends with that application's code."""

from urllib.parse import parse_qs
from urllib.parse import urlsplit

from ..helpers import AuthActions
from ..helpers import AuthorizationRequest
from ..helpers import claims_of
from ..helpers import csrf_token
from ..helpers import exchange
from ..helpers import get_code
from ..helpers import refresh


def test_id_token_amr_says_2fa_was_used(make_app, make_user, make_client, mailbox):
    app = make_app(EMAIL_2FA_REQUIRED=True)
    user = make_user()
    client = app.test_client()
    assert AuthActions(client).login(user.email, user.password).headers["Location"] == "/login/2fa"
    page = client.get("/login/2fa")
    client.post("/login/2fa", data={"csrf_token": csrf_token(page.text), "code": mailbox.last_code(user.email)})
    application = make_client(public=True, skip_consent=True)
    authorization, code = get_code(client, application)
    tokens = exchange(client, application, authorization, code).get_json()
    assert claims_of(tokens["id_token"])[1]["amr"] == ["pwd", "otp", "mfa"]


def test_password_reset_revokes_refresh_tokens(app, signed_in, user, make_client, mailbox):
    application = make_client(public=True, skip_consent=True)
    authorization, code = get_code(signed_in, application, scope="openid offline_access")
    token = exchange(signed_in, application, authorization, code).get_json()["refresh_token"]
    client = app.test_client()
    page = client.get("/password/forgot")
    client.post("/password/forgot", data={"csrf_token": csrf_token(page.text), "email": user.email})
    page = client.get("/password/reset")
    form = {"csrf_token": csrf_token(page.text), "email": user.email, "code": mailbox.last_code(user.email),
            "password": "brand new long passphrase"}
    client.post("/password/reset", data=form)
    assert refresh(client, application, token).get_json()["error"] == "invalid_grant"


def test_registration_from_an_authorization_request_resumes_it(client, make_client, mailbox):
    """Authorize -> login page -> register -> verify -> consent -> the client gets its code."""
    application = make_client()
    request = AuthorizationRequest(application)
    login = urlsplit(client.get(request.url).headers["Location"])
    resume = parse_qs(login.query)["next"][0]
    register_page = client.get(f"/register?next={resume}")
    assert f'name="next" type="hidden" value="{resume}"' in register_page.text
    form = {"csrf_token": csrf_token(register_page.text), "email": "new@example.com", "fullname": "New Person",
            "password": "a long and unusual passphrase", "next": resume}
    response = client.post("/register", data=form)
    verify_page = client.get(response.headers["Location"])
    verified = client.post("/verify-email", data={"csrf_token": csrf_token(verify_page.text),
                                                  "email": "new@example.com", "next": resume,
                                                  "code": mailbox.last_code("new@example.com")})
    assert verified.headers["Location"] == resume
    consent = client.get(resume)
    assert consent.status_code == 200 and "Allow Example App?" in consent.text
    action = consent.text.split('<form method="post" action="')[1].split('"')[0]
    final = client.post(action, data={"csrf_token": csrf_token(consent.text), "decision": "allow"})
    assert "code" in request.callback(final.headers["Location"])
