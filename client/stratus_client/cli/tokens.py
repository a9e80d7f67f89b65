"""`stratus token`: long-lived API tokens for scripts and machines."""

from __future__ import annotations

from typing import Annotated

import typer

from stratus_client.cli.output import JsonOption, print_json, print_table, session, stderr

app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API tokens.")
TOKEN_COLUMNS = [
    ("token_id", lambda t: t.token_id),
    ("name", lambda t: t.name),
    ("prefix", lambda t: t.prefix),
    ("created", lambda t: t.created_at),
    ("expires", lambda t: t.expires_at),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="token")


@app.command()
def create(
    ctx: typer.Context,
    name: str,
    days: Annotated[int | None, typer.Option(help="Expire after this many days")] = None,
    as_json: JsonOption = False,
) -> None:
    """A new token; its secret is printed once, never shown again."""
    with session(ctx).client() as client:
        token = client.create_token(name, days)
    if as_json:
        print_json(token)
        return
    stderr.print(f"token {token.token_id} ({token.name}); store the secret now:", highlight=False)
    print(token.token)


@app.command("ls")
def list_tokens(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Your tenant's tokens, without their secrets."""
    with session(ctx).client() as client:
        found = client.list_tokens()
    if as_json:
        print_json(found)
    else:
        print_table(found, TOKEN_COLUMNS)


@app.command()
def revoke(ctx: typer.Context, token_id: str) -> None:
    """Revoke a token."""
    with session(ctx).client() as client:
        client.revoke_token(token_id)
    stderr.print(f"revoked {token_id}", highlight=False)
