"""The ``prompt`` parameter of an authorization request (OpenID Connect Core §3.1.2.1)."""

from authlib.oauth2.rfc6749.errors import InvalidRequestError

# Exactly what discovery's prompt_values_supported lists.
SUPPORTED = ("none", "login", "consent", "select_account")


def parse(value: str | None, redirect_uri: str) -> frozenset[str]:
    """The prompts asked for; InvalidRequestError (sent back to the client) for a value this server
    does not support (as node-oidc-provider does: a prompt silently ignored would, say, skip a
    re-authentication the client relies on) and for ``none`` with any other value (OIDC Core
    §3.1.2.1: "If this parameter contains none with any other value, an error is returned")."""
    prompts = frozenset((value or "").split(" "))
    prompts -= {""}
    unsupported = prompts - set(SUPPORTED)
    if unsupported:
        raise InvalidRequestError("The request asks for a prompt value this server does not support.",
                                  redirect_uri=redirect_uri)
    if "none" in prompts and len(prompts) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with another value.", redirect_uri=redirect_uri)
    return prompts
