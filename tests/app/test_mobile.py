"""MOBILE_ENABLED: phone verification and SMS 2FA on the code machinery, texts through the log sender."""

import logging
import re
from types import SimpleNamespace

from sqlalchemy import select

from app.extensions import db
from app.models import LoginAttempt
from app.models import User
from app.models import UserSession

from ..helpers import AuthActions
from ..helpers import csrf_token


def texted_code(caplog, phone):
    messages = [record.getMessage() for record in caplog.records if record.name == "sms"]
    assert messages and phone in messages[-1], messages
    return re.search(r"code is (\d{6})", messages[-1]).group(1)


def signed_in_with_csrf(app, user):
    client = app.test_client()
    AuthActions(client).login(user.email, user.password)
    return client, {"X-CSRFToken": csrf_token(client.get("/account").text)}


def test_phone_verification_by_sms(make_app, make_user, caplog):
    app = make_app(MOBILE_ENABLED=True)
    user = make_user()
    client, headers = signed_in_with_csrf(app, user)
    caplog.set_level(logging.INFO, logger="sms")
    sent = client.post("/api/v1/me/phone", json={"phone": "+44 20 7946 0018"}, headers=headers)
    assert sent.status_code == 202
    code = texted_code(caplog, "+442079460018")
    wrong = client.post("/api/v1/me/phone/confirm", json={"code": "000000" if code != "000000" else "111111"},
                        headers=headers)
    assert wrong.status_code == 400 and wrong.headers["Content-Type"] == "application/problem+json"
    done = client.post("/api/v1/me/phone/confirm", json={"code": code}, headers=headers)
    assert done.status_code == 200 and done.get_json() == {"phone": "+442079460018", "phoneVerified": True}
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert (stored.phone, stored.phone_verified, stored.profile.phone_number) == (
            "+442079460018", True, "+442079460018")


def test_phone_endpoints_need_mobile_enabled_csrf_and_a_valid_number(make_app, make_user):
    disabled = make_app()
    client, headers = signed_in_with_csrf(disabled, make_user())
    assert client.post("/api/v1/me/phone", json={"phone": "+442079460018"}, headers=headers).status_code == 404
    app = make_app(MOBILE_ENABLED=True)
    client, headers = signed_in_with_csrf(app, make_user())
    assert client.post("/api/v1/me/phone", json={"phone": "+442079460018"}).status_code == 400  # no CSRF header
    bad = client.post("/api/v1/me/phone", json={"phone": "12345"}, headers=headers)
    assert bad.status_code == 400 and "international form" in bad.get_json()["detail"]
    assert app.test_client().post("/api/v1/me/phone", json={"phone": "+442079460018"}).status_code == 401


def with_verified_phone(app, user, phone):
    """The account with a phone already proved by SMS."""
    with app.app_context():
        stored = db.session.get(User, user.id)
        stored.phone, stored.phone_verified = phone, True
        db.session.commit()
    return user


def test_sms_second_factor_for_a_verified_phone(make_app, make_user, caplog):
    app = make_app(MOBILE_ENABLED=True, EMAIL_2FA_REQUIRED=True)
    user = with_verified_phone(app, make_user(), "+442079460018")
    caplog.set_level(logging.INFO, logger="sms")
    client = app.test_client()
    assert AuthActions(client).login(user.email, user.password).headers["Location"] == "/login/2fa"
    page = client.get("/login/2fa")
    done = client.post("/login/2fa", data={"csrf_token": csrf_token(page.text),
                                           "code": texted_code(caplog, "+442079460018")})
    assert done.status_code == 303 and client.get("/currentuser").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(UserSession.amr)) == ["pwd", "sms", "mfa"]


def test_a_wrong_sms_code_is_recorded_as_sms(make_app, make_user, caplog):
    app = make_app(MOBILE_ENABLED=True, EMAIL_2FA_REQUIRED=True)
    user = with_verified_phone(app, make_user(), "+442079460018")
    caplog.set_level(logging.INFO, logger="sms")
    client = app.test_client()
    AuthActions(client).login(user.email, user.password)
    code = texted_code(caplog, "+442079460018")
    page = client.get("/login/2fa")
    client.post("/login/2fa", data={"csrf_token": csrf_token(page.text), "code": "000000" if code != "000000" else "1"})
    with app.app_context():
        failed = db.session.scalars(select(LoginAttempt.method).where(LoginAttempt.outcome == "2fa_failed")).all()
    assert failed == ["sms_otp"]


def test_sms_text_says_the_configured_code_lifetime(make_app, make_user, caplog):
    app = make_app(MOBILE_ENABLED=True, MOBILE_CODE_TTL=600)
    client, headers = signed_in_with_csrf(app, make_user())
    caplog.set_level(logging.INFO, logger="sms")
    assert client.post("/api/v1/me/phone", json={"phone": "+442079460018"}, headers=headers).status_code == 202
    [text] = [record.getMessage() for record in caplog.records if record.name == "sms"]
    assert "It expires in 10 minutes." in text


def verify_phone(app, client, headers, caplog, phone="+442079460018"):
    caplog.set_level(logging.INFO, logger="sms")
    client.post("/api/v1/me/phone", json={"phone": phone}, headers=headers)
    done = client.post("/api/v1/me/phone/confirm", json={"code": texted_code(caplog, phone)}, headers=headers)
    assert done.status_code == 200


def test_a_new_phone_number_in_the_profile_is_no_longer_verified(make_app, make_user, caplog):
    app = make_app(MOBILE_ENABLED=True)
    user = make_user()
    client, headers = signed_in_with_csrf(app, user)
    verify_phone(app, client, headers, caplog)
    same = client.patch("/api/v1/me", json={"phone": "+442079460018", "fullname": "Ada"}, headers=headers)
    assert same.status_code == 200
    with app.app_context():
        assert db.session.get(User, user.id).phone_verified is True
    assert client.patch("/api/v1/me", json={"phone": "+44 20 7946 0999"}, headers=headers).status_code == 200
    with app.app_context():
        stored = db.session.get(User, user.id)
        assert (stored.phone, stored.phone_verified) == ("+44 20 7946 0999", False)


def test_userinfo_says_a_texted_phone_is_verified(make_app, make_user, caplog):
    from oauth import clients

    from ..helpers import AuthorizationRequest
    app = make_app(MOBILE_ENABLED=True)
    user = make_user()
    client, headers = signed_in_with_csrf(app, user)
    verify_phone(app, client, headers, caplog)
    with app.app_context():
        application, _ = clients.register("Phone App", ["https://app.example.com/callback"], public=True,
                                          skip_consent=True)
        application = SimpleNamespace(client_id=application.client_id, redirect_uris=application.redirect_uris)
    request = AuthorizationRequest(application, scope="openid phone")
    code = request.callback(client.get(request.url).headers["Location"])["code"]
    tokens = client.post("/oauth/token", data={"grant_type": "authorization_code", "code": code,
                                               "redirect_uri": request.redirect_uri, "code_verifier": request.verifier,
                                               "client_id": application.client_id}).get_json()
    claims = client.get("/oauth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).get_json()
    assert claims["phone_number"] == "+442079460018" and claims["phone_number_verified"] is True
