"""What a validated authorization request needs from the person before it is answered, decided in one place.

The authorization endpoint (``oauth/views.py``) asks ``next_step`` and carries out what it says:
show the account chooser, send the browser to the sign-in form or the second-factor page, ask for
consent, send an error back to the client, or answer with a code. The order is OpenID Connect
Core §3.1.2.1's: the account first (``prompt=select_account``, ``id_token_hint``), then
authentication (no session, ``prompt=login``, ``max_age``), then its strength (``acr_values``, the
``claims`` parameter's ``acr`` and ``sub``), then consent. With ``prompt=none`` every step that
needs a page is an error instead (§3.1.2.6).
"""

from dataclasses import dataclass

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError
from authlib.oidc.core.errors import LoginRequiredError

from app.clock import now
from app.services import second_factor

from . import acr
from . import claims
from . import consent
from . import pending

CHOOSE_ACCOUNT, SIGN_IN, STEP_UP, CONSENT, ANSWER, ERROR = (
    "choose_account", "sign_in", "step_up", "consent", "answer", "error")


class UnmetAuthenticationRequirements(OAuth2Error):
    error = "unmet_authentication_requirements"
    description = "The sign-in cannot meet the essential authentication context class this request asks for."


@dataclass(frozen=True)
class Step:
    kind: str
    error: OAuth2Error | None = None
    wrong_user: bool = False  # SIGN_IN: the signed-in user is not the one the id_token_hint names
    extra_claims: tuple[str, ...] = ()  # CONSENT: claims asked for by name beyond the scopes


def invalid_hint(asked: frozenset[str], redirect_uri) -> OAuth2Error:
    """OIDC Core §3.1.2.1: with prompt=none an unusable hint is login_required; otherwise the request
    is invalid (as node-oidc-provider answers), since no sign-in could satisfy it."""
    if "none" in asked:
        return LoginRequiredError(redirect_uri=redirect_uri)
    return InvalidRequestError("id_token_hint is not a valid ID token issued by this server to this client.",
                               redirect_uri=redirect_uri)


def next_step(oauth_request, grant, session, asked: frozenset[str], hint, handle, started) -> Step:
    """The next thing this request needs (``session``: the browser's account in use, or None;
    ``handle``/``started``: the pending request, when it is being resumed)."""
    data = oauth_request.payload.data
    redirect_uri = grant.redirect_uri
    if "select_account" in asked and not _account_chosen(session, handle, started):
        return Step(CHOOSE_ACCOUNT)
    # OIDC Core §3.1.2.1: the user an id_token_hint names must be the one signed in.
    wrong_user = hint.names_another_user_than(session)
    if wrong_user or _needs_sign_in(session, asked, data.get("max_age"), started):
        if "none" in asked:
            return Step(ERROR, LoginRequiredError(redirect_uri=redirect_uri))
        return Step(SIGN_IN, wrong_user=wrong_user)
    refused = _authentication_requirements(oauth_request, redirect_uri, session, asked)
    if refused is not None:
        return Step(ERROR, refused)
    if _needs_step_up(oauth_request, session, asked):
        return Step(STEP_UP)
    # Claims asked for by name that the scopes do not release are shown, and asked, every time.
    extra = () if grant.client.skip_consent else tuple(claims.beyond_scope(
        claims.parse_request(data.get("claims")), grant.request.scope))
    if consent.needs_consent(session.user_id, grant.client, grant.request.scope) or extra or (
            "consent" in asked and not grant.client.skip_consent):
        if "none" in asked:
            return Step(ERROR, ConsentRequiredError(redirect_uri=redirect_uri))
        return Step(CONSENT, extra_claims=extra)
    return Step(ANSWER)


def recheck_at_consent(oauth_request, grant, session) -> Step | None:
    """The consent page came after ``next_step``; an answer POSTed without going through it is checked
    again: an ERROR or STEP_UP step, or None when the request may be answered."""
    refused = _authentication_requirements(oauth_request, grant.redirect_uri, session, frozenset())
    if refused is not None:
        return Step(ERROR, refused)
    if _needs_step_up(oauth_request, session, frozenset()):
        return Step(STEP_UP)
    return None


def _account_chosen(session, handle, started) -> bool:
    """prompt=select_account is answered once the user picked an account on the chooser, or signed
    in ("Use another account") since the request started."""
    return pending.account_chosen(handle) or (
        session is not None and started is not None and session.created_at > started)


def _needs_sign_in(session, asked: frozenset[str], max_age: str | None, started) -> bool:
    """No session, prompt=login not yet honoured, or a sign-in older than max_age."""
    if session is None:
        return True
    signed_in_since_request = started is not None and session.created_at > started
    if "login" in asked and not signed_in_since_request:
        return True
    # ASCII digits only ("²".isdigit() is true, and int() refuses it); int() also refuses thousands of
    # digits, and an age of more than 10 digits (300 years) never asks for a new sign-in anyway.
    if max_age is not None and max_age.isascii() and max_age.isdigit() and len(max_age) <= 10:
        return (now() - session.created_at).total_seconds() > int(max_age) and not signed_in_since_request
    return False


def _requested_acr(oauth_request) -> acr.Requested:
    data = oauth_request.payload.data
    return acr.requested(data.get("acr_values"), claims.parse_request(data.get("claims")))


def _needs_step_up(oauth_request, session, asked: frozenset[str]) -> bool:
    """acr_values (OpenID Connect Core §3.1.2.1) or the claims parameter asks for a stronger sign-in
    than the session's, and the user can give a second factor: ask for it (never with prompt=none)."""
    target = _requested_acr(oauth_request).target()
    return target is not None and acr.session_level(session.amr) < target and "none" not in asked \
        and second_factor.available(session.user)


def _authentication_requirements(oauth_request, redirect_uri, session, asked: frozenset[str]) -> OAuth2Error | None:
    """The error for a request this session cannot answer as asked, else None.

    OpenID Connect Core §5.5.1: with a ``sub`` value, the server MUST NOT answer for another user.
    §5.5.1.1: an essential ``acr`` that cannot be met MUST be treated as a failed authentication:
    ``unmet_authentication_requirements`` (OpenID Connect Core Error Code
    unmet_authentication_requirements 1.0, defined for exactly this case). One that a second factor
    would meet, under prompt=none, is ``login_required`` (§3.1.2.6: authentication needs a page).
    """
    wanted_sub = claims.requested_sub(claims.parse_request(oauth_request.payload.data.get("claims")))
    if wanted_sub and str(session.user_id) not in wanted_sub:
        return LoginRequiredError("The signed-in user is not the one this request names.", redirect_uri=redirect_uri)
    wanted = _requested_acr(oauth_request)
    if wanted.satisfied_by(acr.session_level(session.amr)):
        return None
    stronger = acr.LEVELS[acr.MULTI_FACTOR]
    if "none" in asked and second_factor.available(session.user) and wanted.satisfied_by(stronger):
        return LoginRequiredError("This request needs a second factor, which cannot be asked with prompt=none.",
                                  redirect_uri=redirect_uri)
    if _needs_step_up(oauth_request, session, asked):
        return None  # the second factor may meet it
    return UnmetAuthenticationRequirements(redirect_uri=redirect_uri)
