"""`flask clients create|list|show|update|rotate-secret|delete`."""

import json

import click
from flask.cli import AppGroup

from app.services import audit
from app.services.errors import DomainError

from . import client_keys
from . import clients as registry

clients = AppGroup("clients", help="Manage OAuth applications (clients).")


def _describe(application, secret=None) -> dict:
    body = {
        "client_id": application.client_id,
        "name": application.name,
        "public": application.is_public,
        "token_endpoint_auth_method": application.token_endpoint_auth_method,
        "redirect_uris": application.redirect_uris,
        "post_logout_redirect_uris": application.post_logout_redirect_uris,
        "grant_types": application.grant_types,
        "scope": application.scope,
        "skip_consent": application.skip_consent,
        "introspect": application.introspect,
        "jwks": application.jwks,
        "jwks_uri": application.jwks_uri,
        "request_uris": list(application.request_uris or []),
        "request_object_signing_alg": application.request_object_signing_alg,
        "token_endpoint_auth_signing_alg": application.token_endpoint_auth_signing_alg,
        "userinfo_signed_response_alg": application.userinfo_signed_response_alg,
        "backchannel_logout_uri": application.backchannel_logout_uri,
        "backchannel_logout_session_required": application.backchannel_logout_session_required,
        "frontchannel_logout_uri": application.frontchannel_logout_uri,
        "frontchannel_logout_session_required": application.frontchannel_logout_session_required,
    }
    if not application.is_public and application.token_endpoint_auth_method != "private_key_jwt":
        body["client_secret"] = secret
    return body


def _refuse(error: DomainError):
    raise click.ClickException(error.public_message)


def _jwks(value: str | None):
    """--jwks: a JWKS as JSON text, or @FILE to read it from a file."""
    if value is None:
        return None
    text = value
    if value.startswith("@"):
        try:
            with open(value[1:], encoding="utf-8") as file:
                text = file.read(client_keys.MAX_DOCUMENT_BYTES + 1)
        except (OSError, UnicodeDecodeError) as error:
            raise click.ClickException(f"--jwks: cannot read {value[1:]}: {error}") from None
    try:
        return json.loads(text)
    except ValueError:
        raise click.ClickException("--jwks must be a JWKS as JSON text, or @FILE") from None


def _metadata_options(command):
    """The registration fields of OpenID Connect Registration §2 beyond redirect URIs, for create and update."""
    options = [
        click.option("--token-endpoint-auth-method", "auth_method", type=click.Choice(registry.AUTH_METHODS),
                     default=None, help="How the client authenticates (none: a public client)."),
        click.option("--jwks", default=None, help="The client's public keys: a JWKS as JSON text, or @FILE."),
        click.option("--jwks-uri", default=None, help="Where the client serves its public keys (https)."),
        click.option("--request-uri", "request_uris", multiple=True,
                     help="A request_uri the client may use, matched exactly (repeatable; replaces the list)."),
        click.option("--request-object-signing-alg", default=None,
                     help="The only algorithm its request objects may use (none: unsigned)."),
        click.option("--token-endpoint-auth-signing-alg", default=None,
                     help="The only algorithm its client assertions may use (private_key_jwt, client_secret_jwt)."),
        click.option("--userinfo-signed-response-alg", default=None,
                     help="Answer userinfo as a JWT signed with this algorithm (the server's SIGNING_ALG)."),
        click.option("--backchannel-logout-uri", default=None, help="Where logout tokens are POSTed."),
        click.option("--backchannel-logout-session-required/--no-backchannel-logout-session-required",
                     default=None, help="Logout tokens must carry sid."),
        click.option("--frontchannel-logout-uri", default=None, help="Rendered in an iframe at logout."),
        click.option("--frontchannel-logout-session-required/--no-frontchannel-logout-session-required",
                     default=None, help="The front-channel logout URI gets iss and sid."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _metadata(clear=(), keep=None, **options) -> dict:
    """The service's metadata keyword arguments from the options: on create what was given; on
    update ``keep`` (KEEP) for what was not, and the cleared value for what --clear names."""
    given = {**options, "jwks": _jwks(options["jwks"]), "request_uris": list(options["request_uris"]) or None}
    for name in clear:
        key = name.replace("-", "_")
        if key not in given:
            continue
        if given[key] is not None:
            raise click.ClickException(f"--clear {name} cannot go with a new value for it")
        given[key] = [] if key == "request_uris" else None
    if keep is None:
        return {key: value for key, value in given.items() if value is not None}
    cleared = {name.replace("-", "_") for name in clear}
    return {key: keep if value is None and key not in cleared else value for key, value in given.items()}


@clients.command("create")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact redirect URI (repeatable).")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True, help="Repeatable.")
@click.option("--public", is_flag=True, help="No secret: a browser or native app using PKCE.")
@click.option("--grant-type", "grant_types", multiple=True,
              help="authorization_code, refresh_token, client_credentials (repeatable).")
@click.option("--scope", default=None, help="Space-separated scopes the client may ask for.")
@click.option("--skip-consent", is_flag=True, help="First-party application: never ask for consent.")
@click.option("--introspect", is_flag=True, help="A resource server: may introspect tokens (RFC 7662).")
@_metadata_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (with the secret).")
def create(name, redirect_uris, post_logout, public, grant_types, scope, skip_consent, introspect, auth_method,
           as_json, **metadata):
    """Register an application; a client secret is shown only now."""
    try:
        application, secret = registry.register(
            name, list(redirect_uris), public=public, grant_types=list(grant_types) or None, scope=scope,
            post_logout_redirect_uris=list(post_logout), skip_consent=skip_consent, introspect=introspect,
            token_endpoint_auth_method=auth_method, actor=audit.Actor.system(), **_metadata(**metadata))
    except DomainError as error:
        _refuse(error)
    if as_json:
        click.echo(json.dumps(_describe(application, secret)))
        return
    click.echo(f"client_id: {application.client_id}")
    if secret:
        click.echo(f"client_secret: {secret}  (shown once)")


@clients.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_clients(as_json):
    """List applications."""
    found = [_describe(application) for application in registry.list_all()]
    for entry in found:
        entry.pop("client_secret", None)
    if as_json:
        click.echo(json.dumps({"clients": found}))
        return
    for entry in found:
        kind = "public" if entry["public"] else "confidential"
        roles = " ".join([*entry["grant_types"], *(["introspect"] if entry["introspect"] else [])])
        click.echo(f"{entry['client_id']}  {entry['name']:<30} {kind:<12} {roles}")


@clients.command("show")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def show(client_id, as_json):
    """Show one application's registration (never its secret)."""
    try:
        application = registry.get(client_id)
    except DomainError as error:
        _refuse(error)
    _print_registration(application, as_json)


# What `clients update --clear` empties (lists) or unsets (optional values).
CLEARABLE = ("post-logout-redirect-uris", "jwks", "jwks-uri", "request-uris", "request-object-signing-alg",
             "token-endpoint-auth-signing-alg", "userinfo-signed-response-alg", "backchannel-logout-uri",
             "frontchannel-logout-uri")


@clients.command("update")
@click.argument("client_id")
@click.option("--name", default=None)
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Replaces the list (repeatable).")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True, help="Replaces the list (repeatable).")
@click.option("--grant-type", "grant_types", multiple=True, help="Replaces the list (repeatable).")
@click.option("--scope", default=None, help="Space-separated scopes the client may ask for.")
@click.option("--skip-consent/--no-skip-consent", default=None, help="First-party application or not.")
@click.option("--introspect/--no-introspect", default=None, help="A resource server (may introspect) or not.")
@_metadata_options
@click.option("--clear", "clear", multiple=True, type=click.Choice(CLEARABLE),
              help="Empty a list or unset an optional value (repeatable).")
@click.option("--json", "as_json", is_flag=True)
def update(client_id, name, redirect_uris, post_logout, grant_types, scope, skip_consent, introspect, auth_method,
           clear, as_json, **metadata):
    """Change a registration; options not given keep their value. Checked as at creation.

    A switch to client_secret_jwt, or from private_key_jwt to a secret, issues a new secret (shown once)."""
    if "post-logout-redirect-uris" in clear and post_logout:
        raise click.ClickException("--clear post-logout-redirect-uris cannot go with a new value for it")
    post_logout = [] if "post-logout-redirect-uris" in clear else (list(post_logout) or None)
    try:
        application, secret = registry.update(
            client_id, name=name, redirect_uris=list(redirect_uris) or None,
            post_logout_redirect_uris=post_logout, grant_types=list(grant_types) or None,
            scope=scope, skip_consent=skip_consent, introspect=introspect, token_endpoint_auth_method=auth_method,
            actor=audit.Actor.system(), **_metadata(**metadata, clear=clear, keep=registry.KEEP))
    except DomainError as error:
        _refuse(error)
    _print_registration(application, as_json, secret)


def _print_registration(application, as_json: bool, secret: str | None = None) -> None:
    body = _describe(application, secret)
    if not secret:
        body.pop("client_secret", None)
    if as_json:
        click.echo(json.dumps(body))
        return
    for name, value in body.items():
        if isinstance(value, list):
            value = " ".join(value)
        elif isinstance(value, dict):
            value = json.dumps(value)
        click.echo(f"{name}: {value}" + ("  (shown once)" if name == "client_secret" else ""))


@clients.command("rotate-secret")
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def rotate_secret(client_id, as_json):
    """Replace a confidential client's secret; the old one stops working."""
    try:
        application, secret = registry.rotate_secret(client_id, actor=audit.Actor.system())
    except DomainError as error:
        _refuse(error)
    click.echo(json.dumps(_describe(application, secret)) if as_json else f"client_secret: {secret}  (shown once)")


@clients.command("delete")
@click.argument("client_id")
def delete(client_id):
    """Take an application out of service; its tokens stop working."""
    try:
        application = registry.delete(client_id, actor=audit.Actor.system())
    except DomainError as error:
        _refuse(error)
    click.echo(f"Deleted {application.name} ({application.client_id}).")
