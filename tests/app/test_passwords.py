"""Password hashing and the password policy."""

import pytest
from passlib.hash import bcrypt
from passlib.hash import pbkdf2_sha256

from app.services import passwords


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


def test_new_hashes_are_argon2id_with_owasp_parameters(ctx):
    """19 MiB memory, 2 passes, 1 lane."""
    hashed = passwords.hash_password("correct horse battery staple")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify("correct horse battery staple", hashed) == (True, None)
    assert passwords.verify("Correct horse battery staple", hashed) == (False, None)


@pytest.mark.parametrize("legacy", [pbkdf2_sha256, bcrypt], ids=["pbkdf2_sha256", "bcrypt"])
def test_older_schemes_verify_and_ask_for_a_rehash(ctx, legacy):
    stored = legacy.hash("correct horse battery staple")
    ok, new_hash = passwords.verify("correct horse battery staple", stored)
    assert ok and new_hash.startswith("$argon2id$")
    assert passwords.verify("wrong", stored) == (False, None)


def test_weaker_argon2_parameters_ask_for_a_rehash(make_app):
    weak_app = make_app(PASSWORD_ARGON2_MEMORY_KIB=8192, PASSWORD_ARGON2_TIME_COST=1)
    with weak_app.app_context():
        weak = passwords.hash_password("correct horse battery staple")
    with make_app().app_context():
        ok, new_hash = passwords.verify("correct horse battery staple", weak)
        assert ok and "m=19456,t=2,p=1" in new_hash


@pytest.mark.parametrize("stored", [None, "", "plaintext", "$argon2id$garbage"],
                         ids=["none", "empty", "unknown-scheme", "corrupt"])
def test_missing_or_corrupt_hashes_never_verify(ctx, stored):
    assert passwords.verify("anything at all", stored) == (False, None)


@pytest.mark.parametrize("password, email, reason", [
    ("Zq9!xk2", "", "Use at least 8 characters."),
    ("x" * 129, "", "Use at most 128 characters."),
    ("Grace@Example.com", "grace@example.com", "Do not use your email address as your password."),
    ("password", "", "This is a top-10 common password."),
    ("qwertyuiop", "", "This password is too easy to guess."),
    ("Summer2024!", "", "This password is too easy to guess."),
    ("gracehopper1", "gracehopper@example.com", "This password is too easy to guess."),
], ids=["short", "long", "email", "top-10", "keyboard", "seasonal", "contains-email-name"])
def test_policy_refuses_with_an_actionable_reason(ctx, password, email, reason):
    assert reason in passwords.policy_violations(password, email)


@pytest.mark.parametrize("password", ["correct horse battery staple", "Tr0ub4dor&3-violet", "vX7#qLp2!mZe"],
                         ids=["passphrase", "mixed", "random-ish"])
def test_policy_accepts_strong_passwords(ctx, password):
    assert passwords.policy_violations(password, "grace@example.com") == []
