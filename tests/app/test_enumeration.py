"""No account enumeration in the flows that take an address anyone can type: password reset,
registration and the verification resend answer the same, in the same order, after the same work,
whether or not (and in whatever state) an account has the address."""

import re

import pytest

from app.services import passwords

from ..helpers import csrf_token

API = "/api/v1/auth"
STRONG = "a long and unusual passphrase"
REFUSAL = "That code is not right or has expired. Check the latest message, or ask for a new code."


def api_reset(client, email, code, password):
    return client.post(f"{API}/password/reset", json={"email": email, "code": code, "password": password})


def page_reset(client, email, code, password):
    page = client.get(f"/password/reset?email={email}")
    return client.post("/password/reset", data={"csrf_token": csrf_token(page.text), "email": email, "code": code,
                                                "password": password})


def forgot(client, email):
    assert client.post(f"{API}/password/forgot", json={"email": email}).status_code == 202


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def page_error(response) -> str:
    """The field errors of a page, without its CSRF token (which differs per page)."""
    return " | ".join(re.findall(r'<ul class="field-errors"[^>]*>(.*?)</ul>', response.text, re.S))


@pytest.mark.parametrize("password", [STRONG, "password"], ids=["strong", "weak"])
def test_api_reset_answers_unknown_and_wrong_code_the_same(app, client, user, mailbox, password):
    """Unknown address, known address with no code, known address with a wrong code: one answer,
    and the policy is never reported before the code is right (a weak password changes nothing)."""
    unknown = api_reset(client, "ghost@example.com", "123456", password)
    no_code = api_reset(client, user.email, "123456", password)
    forgot(client, user.email)
    wrong = api_reset(client, user.email, other_code(mailbox.last_code(user.email)), password)
    bodies = {(response.status_code, response.mimetype, response.get_data(as_text=True))
              for response in (unknown, no_code, wrong)}
    assert len(bodies) == 1, bodies
    assert unknown.status_code == 400 and unknown.get_json()["detail"] == REFUSAL


def test_api_reset_reports_the_policy_only_after_a_right_code_which_survives_it(client, user, mailbox):
    forgot(client, user.email)
    code = mailbox.last_code(user.email)
    weak = api_reset(client, user.email, code, "password")
    assert weak.status_code == 400 and weak.get_json()["title"] == "Password Rejected"
    assert api_reset(client, user.email, code, STRONG).status_code == 204


@pytest.mark.parametrize("password", [STRONG, "password"], ids=["strong", "weak"])
def test_page_reset_answers_unknown_and_wrong_code_the_same(app, client, user, mailbox, password):
    unknown = page_reset(client, "ghost@example.com", "123456", password)
    forgot(client, user.email)
    wrong = page_reset(client, user.email, other_code(mailbox.last_code(user.email)), password)
    assert unknown.status_code == wrong.status_code == 400
    assert page_error(unknown) == page_error(wrong) and "not right or has expired" in page_error(unknown)
    assert "too easy to guess" not in wrong.text and "common password" not in wrong.text


def test_page_reset_reports_the_policy_after_a_right_code(client, user, mailbox):
    forgot(client, user.email)
    code = mailbox.last_code(user.email)
    weak = page_reset(client, user.email, code, "password")
    assert weak.status_code == 400 and "common password" in weak.text
    assert page_reset(client, user.email, code, STRONG).status_code == 303


def register(client, email, password=STRONG):
    return client.post(f"{API}/register", json={"email": email, "fullname": "Grace Hopper", "password": password})


def test_registering_a_taken_address_mails_its_owner_once_per_resend_window(clock, app, client, user, mailbox):
    app.config["MAIL_RATE_LIMIT_IP"] = "100 per minute"  # the per-address window is under test here
    for _ in range(10):
        response = register(client, user.email)
        assert response.status_code == 202
    assert len(mailbox.to(user.email)) == 1
    clock.shift(61)
    assert register(client, user.email).status_code == 202
    assert len(mailbox.to(user.email)) == 2


def test_registration_does_the_same_password_work_for_a_taken_address(app, client, user, mailbox, monkeypatch):
    """One argon2 hash and no verification for either path (it used to be a hash, then a dummy
    verification for a taken address): counted by passing through the real CryptContext."""
    context = app.extensions["passwords"].context
    calls = []
    for name in ("hash", "verify", "verify_and_update"):
        real = getattr(context, name)
        monkeypatch.setattr(context, name, lambda *args, _real=real, _name=name, **kwargs: (
            calls.append(_name), _real(*args, **kwargs))[1])
    with app.app_context():
        passwords.hash_password("warm up the dummy")  # anything made once per process is made now
    calls.clear()
    register(client, "newcomer@example.com")
    fresh = list(calls)
    calls.clear()
    register(client, user.email)
    assert calls == fresh == ["hash"]


def resend(client, email):
    return client.post(f"{API}/verify/resend", json={"email": email})


def test_resend_answers_the_same_whatever_the_account_state(clock, app, client, make_user, mailbox):
    """Unknown, verified and unverified addresses: 202, then 429 with the same Retry-After inside the
    window, then 202 again; only the unverified account is mailed."""
    app.config["MAIL_RATE_LIMIT_IP"] = "100 per minute"  # the per-address window is under test here
    verified, pending = make_user(), make_user(verified=False)
    addresses = ["nobody@example.com", verified.email, pending.email]
    first = [resend(client, address) for address in addresses]
    clock.shift(10)
    second = [resend(client, address) for address in addresses]
    clock.shift(51)
    third = [resend(client, address) for address in addresses]
    for answers, status in ((first, 202), (second, 429), (third, 202)):
        assert {(r.status_code, r.get_data(as_text=True), r.headers.get("Retry-After")) for r in answers} == {
            (status, answers[0].get_data(as_text=True), answers[0].headers.get("Retry-After"))}
        assert answers[0].status_code == status
    assert second[0].headers["Retry-After"] == "50"
    assert len(mailbox.to(pending.email)) == 2 and mailbox.to(verified.email) == []
