"""``newsletter users add|list|remove``: the people who may sign in to the desk."""

from __future__ import annotations

import sys

import click

from ..config import load_config


@click.group()
def users() -> None:
    """People of the desk: add, list, remove (passwords stored as argon2id hashes)."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["editor", "approver"]), required=True,
              help="editor: prepares issues; approver: may also approve them (four eyes).")  # fmt: skip
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
def add(name: str, role: str, password_stdin: bool) -> None:
    """Add NAME with a role; the password is asked for twice on the terminal (not shown)."""
    from .. import edges
    from ..store.users import check_password, clean_name

    config = load_config()
    clean_name(name)  # a bad name is refused before the password is asked for
    password = _password(password_stdin)
    check_password(password)
    user = edges.users(config).add(name, role, password)
    click.echo(f"added {user.name} ({user.role}); they can sign in to `newsletter desk` now")


def _password(from_stdin: bool) -> str:
    from ..store.users import UserError

    if from_stdin:
        line = sys.stdin.readline()
        return line.removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise UserError("no terminal to ask for the password; pipe it in with --password-stdin")
    first = click.prompt("New password (not shown)", hide_input=True, default="", show_default=False)
    second = click.prompt("The same password again", hide_input=True, default="", show_default=False)
    if first != second:
        raise UserError("the two passwords differ; nothing was stored, run the command again")
    return first


@users.command("list")
def list_users() -> None:
    """Every user: name, role, created, last sign-in (never a password or hash)."""
    from .. import edges

    people = edges.users(load_config()).all()
    if not people:
        click.echo("no users: the desk runs on 127.0.0.1 for one editor without sign-in")
        return
    width = max(len(u.name) for u in people)
    for u in people:
        last = f"{u.last_sign_in:%Y-%m-%d %H:%M} UTC" if u.last_sign_in else "never signed in"
        click.echo(
            f"{u.name:<{width}}  {u.role:<8}  created {u.created_at:%Y-%m-%d %H:%M} UTC  last sign-in: {last}"
        )


@users.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove NAME; their open desk sessions end with their next request."""
    from .. import edges

    user = edges.users(load_config()).remove(name)
    click.echo(f"removed {user.name} ({user.role})")


def register(main: click.Group) -> None:
    main.add_command(users)
