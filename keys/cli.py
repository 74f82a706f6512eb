"""`flask keys list|rotate|reencrypt`."""

import json

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.extensions import db

from . import crypto
from . import rotation
from .models import SigningKey

keys = AppGroup("keys", help="Manage the signing key ring.")


def _describe(key: SigningKey) -> dict:
    def iso(moment):
        return moment.isoformat() if moment else None

    return {"kid": key.kid, "alg": key.alg, "state": key.state, "created_at": iso(key.created_at),
            "published_at": iso(key.published_at), "activated_at": iso(key.activated_at),
            "retired_at": iso(key.retired_at), "remove_after": iso(key.remove_after)}


@keys.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--all", "show_all", is_flag=True, help="Include removed keys.")
def list_keys(as_json, show_all):
    """List keys, newest first."""
    query = select(SigningKey).order_by(SigningKey.created_at.desc())
    if not show_all:
        query = query.where(SigningKey.state != "removed")
    found = [_describe(key) for key in db.session.scalars(query)]
    if as_json:
        click.echo(json.dumps({"keys": found}))
        return
    for key in found:
        click.echo(f"{key['kid']}  {key['alg']}  {key['state']:<8} created {key['created_at']}"
                   + (f"  leaves the JWKS after {key['remove_after']}" if key["remove_after"] else ""))


@keys.command("rotate")
@click.option("--revoke", is_flag=True, help="Also unpublish the old key at once (tokens it signed stop verifying).")
@click.option("--json", "as_json", is_flag=True)
def rotate(revoke, as_json):
    """Replace the current signing key now (suspected compromise)."""
    try:
        key = rotation.rotate_now(current_app.config["KEY_ENCRYPTION_SECRET"], revoke=revoke)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(_describe(key)) if as_json else f"Key {key.kid} ({key.alg}) signs from now on.")


@keys.command("reencrypt")
@click.option("--new-secret", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The KEY_ENCRYPTION_SECRET to seal every key under from now on.")
def reencrypt(new_secret):
    """Reseal every private key under a new KEY_ENCRYPTION_SECRET (opened with the configured one)."""
    if len(new_secret) < 32:
        raise click.ClickException("the new secret must be at least 32 characters")
    try:
        count = rotation.reencrypt(current_app.config["KEY_ENCRYPTION_SECRET"], new_secret)
    except crypto.SealBroken as error:
        raise click.ClickException(f"{error}; nothing was changed") from None
    click.echo(f"Resealed {count} keys. Set KEY_ENCRYPTION_SECRET to the new secret on every instance now.")
