"""`flask clients create|list|show|update|rotate-secret|delete`."""

import json

import click
from flask.cli import AppGroup

from app.services import audit
from app.services.errors import DomainError

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
    }
    if not application.is_public:
        body["client_secret"] = secret
    return body


def _refuse(error: DomainError):
    raise click.ClickException(error.public_message)


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
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (with the secret).")
def create(name, redirect_uris, post_logout, public, grant_types, scope, skip_consent, introspect, as_json):
    """Register an application; a confidential client's secret is shown only now."""
    try:
        application, secret = registry.register(
            name, list(redirect_uris), public=public, grant_types=list(grant_types) or None, scope=scope,
            post_logout_redirect_uris=list(post_logout), skip_consent=skip_consent, introspect=introspect,
            actor=audit.Actor.system())
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


@clients.command("update")
@click.argument("client_id")
@click.option("--name", default=None)
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Replaces the list (repeatable).")
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True, help="Replaces the list (repeatable).")
@click.option("--grant-type", "grant_types", multiple=True, help="Replaces the list (repeatable).")
@click.option("--scope", default=None, help="Space-separated scopes the client may ask for.")
@click.option("--skip-consent/--no-skip-consent", default=None, help="First-party application or not.")
@click.option("--introspect/--no-introspect", default=None, help="A resource server (may introspect) or not.")
@click.option("--json", "as_json", is_flag=True)
def update(client_id, name, redirect_uris, post_logout, grant_types, scope, skip_consent, introspect, as_json):
    """Change a registration; options not given keep their value. Checked as at creation."""
    try:
        application = registry.update(
            client_id, name=name, redirect_uris=list(redirect_uris) or None,
            post_logout_redirect_uris=list(post_logout) or None, grant_types=list(grant_types) or None,
            scope=scope, skip_consent=skip_consent, introspect=introspect, actor=audit.Actor.system())
    except DomainError as error:
        _refuse(error)
    _print_registration(application, as_json)


def _print_registration(application, as_json: bool) -> None:
    body = _describe(application)
    body.pop("client_secret", None)
    if as_json:
        click.echo(json.dumps(body))
        return
    for name, value in body.items():
        click.echo(f"{name}: {' '.join(value) if isinstance(value, list) else value}")


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
