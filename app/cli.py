"""Command line: ``flask bootstrap`` and ``flask users ...``. Bad input exits 1 with one line."""

import json

import click
from flask import Flask
from flask import current_app
from flask.cli import AppGroup
from flask.cli import with_appcontext

from .services import accounts
from .services.errors import DomainError

users = AppGroup("users", help="Manage user accounts.")


def _user_json(user) -> dict:
    return {
        "id": str(user.id),
        "email": user.email,
        "fullname": user.fullname,
        "email_verified": user.email_verified,
        "is_active": user.is_active,
        "roles": user.role_names,
        "created_at": user.created_at.isoformat(),
    }


def _refuse(error: DomainError):
    raise click.ClickException(error.public_message.replace("\n", " "))


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "fullname", default="", help="Full name.")
@click.option("--verified", is_flag=True, help="Mark the email address as verified.")
@click.option("--role", "roles", multiple=True, help="A role besides 'user' (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the account as one JSON object.")
def create_user(email, password, fullname, verified, roles, as_json):
    """Create an account."""
    try:
        user = accounts.create_user(email, password, fullname, verified=verified,
                                    extra_roles=frozenset(roles))
    except DomainError as error:
        _refuse(error)
    click.echo(json.dumps(_user_json(user)) if as_json else f"Created {user.email} ({user.id}).")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with a list of users.")
def list_users(as_json):
    """List accounts, oldest first."""
    found = accounts.list_users()
    if as_json:
        click.echo(json.dumps({"users": [_user_json(user) for user in found]}))
        return
    for user in found:
        state = "active" if user.is_active else "deactivated"
        click.echo(f"{user.id}  {user.email:<40} {state:<11} {','.join(user.role_names)}")


@users.command("set-password")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--json", "as_json", is_flag=True)
def set_password(email, password, as_json):
    """Give an account a new password (its sessions end)."""
    try:
        user = accounts.set_password(email, password)
    except DomainError as error:
        _refuse(error)
    click.echo(json.dumps(_user_json(user)) if as_json else f"Password changed for {user.email}.")


@users.command("deactivate")
@click.option("--email", required=True)
@click.option("--json", "as_json", is_flag=True)
def deactivate(email, as_json):
    """Soft-delete an account: it can no longer sign in and its sessions end."""
    try:
        user = accounts.deactivate(email)
    except DomainError as error:
        _refuse(error)
    click.echo(json.dumps(_user_json(user)) if as_json else f"Deactivated {user.email}.")


@click.command("bootstrap")
@with_appcontext
def bootstrap():
    """First-start setup, safe to repeat: the super admin and a signing key."""
    first_start()


def first_start() -> None:
    """The first-start setup (``flask bootstrap``, and ``make run`` before it serves), in an
    application context; says what it found or made."""
    config = current_app.config
    try:
        user, generated = accounts.ensure_superadmin(config["SUPERADMIN_EMAIL"], config["SUPERADMIN_PASSWORD"])
    except DomainError as error:
        _refuse(error)
    if generated:
        click.echo(f"Created super admin {user.email} with password: {generated}")
        click.echo("This password is shown once. Sign in and change it, or set SUPERADMIN_PASSWORD.")
    else:
        click.echo(f"Super admin {user.email} exists.")
    for step in current_app.extensions.get("bootstrap_steps", []):
        step()


def init_app(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(bootstrap)
