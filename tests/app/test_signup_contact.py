"""The phone and address a registration gives follow the profile's rules (OIDC address claim shape,
E.164-like phone), on the page and in JSON: 400, and no account, for anything else."""

import pytest

from app.services import accounts

from ..helpers import csrf_token

STRONG = "a long and unusual passphrase"


def stored(app, email):
    with app.app_context():
        user = accounts.find_by_email(email)
        return None if user is None else (user.phone, user.profile.address if user.profile else None)


@pytest.mark.parametrize("extra, status, field", [
    ({"phone": "call me maybe"}, 400, "phone"),
    ({"phone": "+1 234 567 890 123 456 789"}, 400, "phone"),
    ({"address": {"locality": {"nested": "object"}}}, 422, "address.locality"),
    ({"address": {"locality": ["a", "list"]}}, 422, "address.locality"),
    ({"address": {"locality": "x" * 101}}, 422, "address.locality"),
    ({"address": {"street_address": "line\u0000break"}}, 400, None),
    ({"address": {"planet": "Mars"}}, 422, "address.planet"),
    ({"address": "12 Analytical Row"}, 422, "address"),
], ids=["phone-words", "phone-16-digits", "member-object", "member-list", "member-too-long", "control-character",
        "unknown-member", "not-an-object"])
def test_json_signup_refuses_malformed_phone_and_address(app, client, mailbox, extra, status, field):
    """The declared model refuses types, sizes and unknown members (422 naming the field); the profile's
    rules the rest (400)."""
    body = {"email": "grace@example.com", "fullname": "Grace Hopper", "password": STRONG, **extra}
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == status and response.mimetype == "application/problem+json"
    if field is not None:
        assert list(response.get_json()["errors"]) == [field]
    assert stored(app, "grace@example.com") is None and mailbox.messages == []


def test_json_signup_stores_a_valid_phone_and_address(app, client, mailbox):
    address = {"street_address": "12 Analytical Row", "locality": "London", "country": "UK"}
    body = {"email": "ada@example.com", "fullname": "Ada Lovelace", "password": STRONG, "phone": "+44 20 7946 0000",
            "address": address}
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 202
    assert stored(app, "ada@example.com") == ("+44 20 7946 0000", address)


def test_page_signup_shows_a_malformed_phone_on_its_field(app, client, mailbox):
    page = client.get("/register")
    response = client.post("/register", data={"csrf_token": csrf_token(page.text), "email": "x@example.com",
                                              "fullname": "X", "password": STRONG, "phone": "call me maybe"})
    assert response.status_code == 400 and "Enter a phone number such as" in response.text
    assert stored(app, "x@example.com") is None
