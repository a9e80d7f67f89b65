"""The `stratus` command line: `stratus --help` lists its commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from stratus_client import endpoints
from stratus_client.cli import algorithms, campaigns, files, jobs, tokens, workflows, workspaces
from stratus_client.cli.output import Session, report_error, session, stderr
from stratus_client.client import Client
from stratus_client.config import Settings, config_path, resolve_settings, write_config
from stratus_client.errors import StratusError


class _Root(TyperGroup):
    """Every command's StratusError ends the process with status 1 and one line on stderr."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click: its Context type is private
        try:
            return super().invoke(ctx)
        except StratusError as error:
            report_error(error)
            raise typer.Exit(1) from error


app = typer.Typer(
    cls=_Root,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Stratus from the command line: files, algorithms, runs, trainings, workflows, campaigns, tokens.",
)


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(help="API address (else STRATUS_URL, else login's)")] = None,
    token: Annotated[str | None, typer.Option(help="Bearer token (else STRATUS_TOKEN, else login's)")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or log lines")] = False,
) -> None:
    """Address and token: --url/--token, else STRATUS_URL/STRATUS_TOKEN, else `stratus login`'s file."""
    ctx.obj = Session(url, token, quiet)


@app.command()
def login(
    url: Annotated[str, typer.Option(help="The API's address, e.g. http://127.0.0.1:8000")],
    token: Annotated[str, typer.Option(help="A bearer token (`stratus token create` makes long-lived ones)")],
    verify: Annotated[bool, typer.Option(help="Check the token against the API first")] = True,
) -> None:
    """Save the address and token (readable by you only) for later commands."""
    settings = Settings(url=url.rstrip("/"), token=token)
    if verify:
        with Client(settings.url, settings.token) as client:
            client.call(endpoints.list_tokens(limit=1))
    path = config_path()
    write_config(settings, path)
    stderr.print(f"Saved {settings.url} to {path}", highlight=False)


@app.command()
def whoami(ctx: typer.Context) -> None:
    """Where commands go, and whether a token is set (never the token itself)."""
    options = session(ctx)
    settings = resolve_settings(options.url, options.token)
    print(f"{settings.url} ({'token set' if settings.token else 'no token'})")


files.register(app)
algorithms.register(app)
jobs.register(app)
workflows.register(app)
workspaces.register(app)
campaigns.register(app)
tokens.register(app)


def main() -> None:
    """The console script."""
    app()


__all__ = ["app", "main"]
