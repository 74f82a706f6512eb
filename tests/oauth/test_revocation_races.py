"""A revocation racing an issuance for the same user: whichever wins, the other sees its result.

Real concurrency over HTTP (a threaded live server), no timing: each round releases the token
request and the revocation together through a barrier, and afterwards either the token request
was refused or everything it issued is dead. Enough rounds that the old code (a withdrawal that
committed before its sweep, an issuance that checked nothing once more) failed every run.
"""

import hashlib
import threading
from urllib.parse import urljoin

import pytest
import requests
from sqlalchemy import text

from app.extensions import db

from ..helpers import CONSENT_ACTION
from ..helpers import NEW_PASSWORD
from ..helpers import AuthorizationRequest
from ..helpers import bearer
from ..helpers import csrf_token
from ..helpers import production_only
from ..helpers import wait_until

ROUNDS = 30


class Browser:
    """A user's browser on the live server: signed in through the form, consenting when asked."""

    def __init__(self, base, user):
        self.base = base
        self.http = requests.Session()
        page = self.http.get(f"{base}/login")
        answer = self.http.post(f"{base}/login", data={"csrf_token": csrf_token(page.text), "email": user.email,
                                                       "password": user.password}, allow_redirects=False)
        assert answer.status_code == 303, answer.text

    def code(self, application, scope):
        authorization = AuthorizationRequest(application, scope=scope)
        answer = self.http.get(self.base + authorization.url, allow_redirects=False)
        if answer.status_code == 200:  # the consent page: the grant was withdrawn, or never given
            action = CONSENT_ACTION.search(answer.text).group(1)
            answer = self.http.post(urljoin(self.base, action), allow_redirects=False,
                                    data={"csrf_token": csrf_token(answer.text), "decision": "allow"})
        return authorization, authorization.callback(answer.headers["Location"])["code"]

    def api_token(self):
        return csrf_token(self.http.get(f"{self.base}/account").text)


def token_request(base, application, **form):
    return requests.post(f"{base}/oauth/token", data={**form, "client_id": application.client_id})


def exchange(base, application, authorization, code):
    return token_request(base, application, grant_type="authorization_code", code=code,
                         redirect_uri=authorization.redirect_uri, code_verifier=authorization.verifier)


def together(first, second):
    """Run both calls released at the same moment by a barrier; their results."""
    barrier = threading.Barrier(2)
    results = [None, None]

    def run(index, call):
        barrier.wait(timeout=10)
        results[index] = call()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def assert_dead(base, application, resource_server, issued):
    """A token answer that won the race: the revocation that followed reached all of it."""
    if issued.status_code != 200:
        assert issued.status_code == 400 and issued.json()["error"] == "invalid_grant", issued.text
        return
    body = issued.json()
    assert requests.get(f"{base}/oauth/userinfo", headers=bearer(body["access_token"])).status_code == 401
    introspection = requests.post(f"{base}/oauth/introspect", data={"token": body["access_token"]},
                                  auth=(resource_server.client_id, resource_server.client_secret))
    assert introspection.json() == {"active": False}
    refreshed = token_request(base, application, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant", refreshed.text


@pytest.fixture
def app(make_app):
    """Every round checks a password: more than the default 30 a minute from one address."""
    return make_app(LOGIN_RATE_LIMIT_IP="1000 per minute")


@pytest.fixture
def third_party(make_client):
    """A public client that asks for consent, so its grant can be withdrawn."""
    return make_client(public=True)


@pytest.fixture
def resource_server(make_client):
    return make_client(introspect=True, skip_consent=True, name="Resource Server")


def withdraw(browser, application):
    api_token = browser.api_token()
    return lambda: browser.http.delete(f"{browser.base}/api/v1/me/applications/{application.client_id}",
                                       headers={"X-CSRFToken": api_token})


def test_an_exchange_racing_a_withdrawal_leaves_no_live_token(live_server, user, third_party, resource_server):
    browser = Browser(live_server.url, user)
    for _ in range(ROUNDS):
        authorization, code = browser.code(third_party, "openid offline_access")
        issued, withdrawn = together(lambda: exchange(live_server.url, third_party, authorization, code),
                                     withdraw(browser, third_party))
        assert withdrawn.status_code == 204
        assert_dead(live_server.url, third_party, resource_server, issued)


def test_a_refresh_racing_a_withdrawal_leaves_no_live_token(live_server, user, third_party, resource_server):
    browser = Browser(live_server.url, user)
    for _ in range(ROUNDS):
        authorization, code = browser.code(third_party, "openid offline_access")
        first = exchange(live_server.url, third_party, authorization, code)
        assert first.status_code == 200, first.text
        issued, withdrawn = together(
            lambda: token_request(live_server.url, third_party, grant_type="refresh_token",
                                  refresh_token=first.json()["refresh_token"]),
            withdraw(browser, third_party))
        assert withdrawn.status_code == 204
        assert_dead(live_server.url, third_party, resource_server, issued)


def test_a_refresh_racing_a_password_change_leaves_no_live_token(live_server, user, third_party, resource_server):
    """A narrow race (the change checks and hashes a password first, argon2): the next test
    makes it certain on PostgreSQL."""
    browser = Browser(live_server.url, user)
    passwords = [user.password, NEW_PASSWORD]
    for round_ in range(ROUNDS):
        authorization, code = browser.code(third_party, "openid offline_access")
        first = exchange(live_server.url, third_party, authorization, code)
        assert first.status_code == 200, first.text
        current, new = passwords[round_ % 2], passwords[(round_ + 1) % 2]
        api_token = browser.api_token()
        issued, changed = together(
            lambda: token_request(live_server.url, third_party, grant_type="refresh_token",
                                  refresh_token=first.json()["refresh_token"]),
            lambda: browser.http.post(f"{live_server.url}/api/v1/me/password", headers={"X-CSRFToken": api_token},
                                      json={"current_password": current, "new_password": new}))
        assert changed.status_code == 200, changed.text
        assert_dead(live_server.url, third_party, resource_server, issued)


@production_only  # row locks: SQLite writes one transaction at a time, so there is no sweep to stop midway
def test_a_refresh_inside_a_password_changes_sweep_is_revoked(live_server, user, third_party, resource_server):
    """The same race, made certain on PostgreSQL: the test holds the user's first refresh token
    locked, so the revocation is seen waiting in the middle of its sweep when the second token's
    refresh starts; that refresh either finishes (and the sweep, once let go, must reach what it
    issued) or waits its turn and is refused."""
    browser = Browser(live_server.url, user)
    tokens = []
    for _ in range(2):
        authorization, code = browser.code(third_party, "openid offline_access")
        tokens.append(exchange(live_server.url, third_party, authorization, code).json()["refresh_token"])
    api_token = browser.api_token()
    results = {}
    with live_server.app.app_context(), db.engine.connect() as holder:
        holder.execute(text("SELECT id FROM refresh_tokens WHERE token_hash = :hash FOR UPDATE"),
                       {"hash": hashlib.sha256(tokens[0].encode()).hexdigest()})
        change = threading.Thread(target=lambda: results.update(changed=browser.http.post(
            f"{live_server.url}/api/v1/me/password", headers={"X-CSRFToken": api_token},
            json={"current_password": user.password, "new_password": NEW_PASSWORD})))
        change.start()
        wait_until(lambda: waiting_on_locks(live_server.app) == 1)
        rotation = threading.Thread(target=lambda: results.update(issued=token_request(
            live_server.url, third_party, grant_type="refresh_token", refresh_token=tokens[1])))
        rotation.start()
        wait_until(lambda: "issued" in results or waiting_on_locks(live_server.app) == 2)
        holder.rollback()
    change.join(timeout=60)
    rotation.join(timeout=60)
    assert results["changed"].status_code == 200, results["changed"].text
    assert_dead(live_server.url, third_party, resource_server, results["issued"])


def waiting_on_locks(app) -> int:
    with app.app_context(), db.engine.connect() as connection:
        return connection.scalar(text("SELECT count(*) FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND wait_event_type = 'Lock'"))
