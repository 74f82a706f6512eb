"""Authentication context classes: the ``acr`` values this server knows, and how a request for them is met.

OpenID Connect Core §2 (``acr``), §3.1.2.1 (``acr_values``), §5.5.1.1 (``acr`` requested through the
``claims`` parameter). The levels, lowest first:

- ``urn:idp:acr:pwd``: a password;
- ``urn:idp:acr:mfa``: a password and a second factor (a code by email or SMS);
- ``urn:idp:acr:phr``: phishing-resistant (passkeys). Declared so the name is stable, but no sign-in
  reaches it yet: it is not advertised, and a request for it is never met.

A session's level follows from its ``amr`` (RFC 8176): ``mfa`` in it means the second factor was
given. A level is met by any session at that level or above.
"""

from dataclasses import dataclass

PASSWORD = "urn:idp:acr:pwd"
MULTI_FACTOR = "urn:idp:acr:mfa"
PHISHING_RESISTANT = "urn:idp:acr:phr"

LEVELS = {PASSWORD: 1, MULTI_FACTOR: 2, PHISHING_RESISTANT: 3}
# What a sign-in here can reach today: the only values listed in acr_values_supported.
REACHABLE = (PASSWORD, MULTI_FACTOR)
BY_LEVEL = {LEVELS[value]: value for value in REACHABLE}


def session_level(amr) -> int:
    return LEVELS[MULTI_FACTOR] if "mfa" in (amr or ()) else LEVELS[PASSWORD]


@dataclass(frozen=True)
class Requested:
    """What a request asks: ``preferred`` levels (voluntary, in the client's order) and, when the
    ``claims`` parameter makes ``acr`` essential with values, the values of which one MUST be met."""

    preferred: tuple[str, ...] = ()
    essential: tuple[str, ...] | None = None

    def target(self) -> int | None:
        """The level worth stepping up to: the most preferred reachable value asked for, if any.

        Both acr_values (§3.1.2.1) and a claim's values (§5.5.1) are in order of preference; with
        an essential acr, its values are the ones that count.
        """
        asked = self.essential if self.essential is not None else self.preferred
        reachable = [LEVELS[value] for value in asked if value in REACHABLE]
        return reachable[0] if reachable else None

    def satisfied_by(self, level: int) -> bool:
        """OpenID Connect Core §5.5.1.1: an essential acr is met only by one of its values."""
        if self.essential is None:
            return True
        return any(LEVELS[value] <= level for value in self.essential if value in REACHABLE)

    def reported(self, level: int) -> str:
        """The ``acr`` to put in the ID token for a session at ``level``.

        Of the values asked for (the essential ones when there are, §5.5.1.1: the claim's value MUST
        be one of them), the highest this session meets; otherwise the session's own level.
        """
        asked = self.essential if self.essential is not None else self.preferred
        met = [value for value in asked if value in REACHABLE and LEVELS[value] <= level]
        if met:
            return max(met, key=LEVELS.__getitem__)
        return BY_LEVEL[level]


def requested(acr_values: str | None, claims_request: dict | None) -> Requested:
    """Read ``acr_values`` (space-separated, in order of preference) and the ``acr`` member of the
    ``claims`` parameter's ``id_token`` object (already validated by ``oauth.claims.parse_request``)."""
    preferred = list((acr_values or "").split())
    essential = None
    member = ((claims_request or {}).get("id_token") or {}).get("acr")
    if isinstance(member, dict):
        values = member.get("values") if "values" in member else (
            [member["value"]] if "value" in member else [])
        values = [value for value in values if isinstance(value, str)]
        if member.get("essential") is True and values:
            essential = tuple(values)
        else:
            preferred.extend(values)
    return Requested(tuple(dict.fromkeys(preferred)), essential)
