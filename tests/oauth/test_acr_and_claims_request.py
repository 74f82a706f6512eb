"""The acr levels (oauth/acr.py) and the claims request parameter's parser (oauth/claims.py), as units."""

import json

import pytest

from oauth import acr
from oauth import claims

PWD, MFA, PHR = acr.PASSWORD, acr.MULTI_FACTOR, acr.PHISHING_RESISTANT


def test_session_levels_follow_amr():
    assert acr.session_level(["pwd"]) == 1
    assert acr.session_level(["pwd", "otp", "mfa"]) == acr.session_level(["pwd", "sms", "mfa"]) == 2
    assert acr.session_level(None) == 1


def test_the_phishing_resistant_level_is_declared_but_not_reachable():
    assert acr.LEVELS[PHR] > acr.LEVELS[MFA] and PHR not in acr.REACHABLE


@pytest.mark.parametrize("acr_values, claims_request, target, reported_at_pwd, reported_at_mfa, met_at_pwd", [
    (None, None, None, PWD, MFA, True),
    ("1 2", None, None, PWD, MFA, True),                      # unknown values are preferences only
    (f"{MFA} {PWD}", None, 2, PWD, MFA, True),                 # preference order: mfa first
    (f"{PWD} {MFA}", None, 1, PWD, MFA, True),                 # pwd preferred: no step-up
    (PHR, None, None, PWD, MFA, True),                         # unreachable: issued at the level reached
    (None, {"id_token": {"acr": {"essential": True, "values": [MFA]}}}, 2, PWD, MFA, False),
    (None, {"id_token": {"acr": {"essential": True, "value": MFA}}}, 2, PWD, MFA, False),
    (None, {"id_token": {"acr": {"essential": True, "values": [PHR]}}}, None, PWD, MFA, False),
    (None, {"id_token": {"acr": {"essential": True, "values": [PWD]}}}, 1, PWD, PWD, True),  # as asked
    (None, {"id_token": {"acr": {"values": [MFA]}}}, 2, PWD, MFA, True),                    # voluntary
    (None, {"id_token": {"acr": {"essential": True}}}, None, PWD, MFA, True),                # any acr
    (None, {"id_token": {"acr": None}}, None, PWD, MFA, True),
], ids=["nothing", "unknown", "mfa-first", "pwd-first", "phr", "essential-mfa", "essential-value", "essential-phr",
        "essential-pwd", "voluntary-claim", "essential-any", "null-member"])
def test_requested_levels(acr_values, claims_request, target, reported_at_pwd, reported_at_mfa, met_at_pwd):
    wanted = acr.requested(acr_values, claims_request)
    assert wanted.target() == target
    assert wanted.reported(1) == reported_at_pwd
    assert wanted.reported(2) == reported_at_mfa
    assert wanted.satisfied_by(1) is met_at_pwd


@pytest.mark.parametrize("raw", [
    "x", "[]", "1", "null", '"s"', '{"userinfo": []}', '{"id_token": 1}', '{"userinfo": {"name": true}}',
    '{"userinfo": {"name": {"essential": 1}}}', '{"id_token": {"acr": {"values": {}}}}', "{" * 5000,
])
def test_malformed_claims_requests_are_refused(raw):
    with pytest.raises(claims.InvalidClaimsRequest):
        claims.parse_request(raw)


def test_claims_request_keeps_only_its_two_targets():
    raw = json.dumps({"userinfo": {"name": None, "email": {"essential": True}}, "id_token": None, "other": 1})
    parsed = claims.parse_request(raw)
    assert parsed == {"userinfo": {"name": None, "email": {"essential": True}}}
    assert claims.parse_request(None) is None and claims.parse_request("") is None
    assert claims.parse_request("{}") == {}


def test_claims_beyond_the_scope_and_sub_values():
    request = {"userinfo": {"name": None, "email": None, "nickname": None},
               "id_token": {"acr": None, "auth_time": None, "sub": {"value": "a"}, "address": None}}
    assert set(claims.beyond_scope(request, "openid email")) == {"address", "name"}
    assert claims.beyond_scope(request, "openid profile email address") == []
    assert claims.requested_sub(request) == ["a"]
    assert claims.requested_sub({"userinfo": {"sub": {"values": ["b", "c"]}}}) == ["b", "c"]
