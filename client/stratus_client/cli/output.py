"""What the CLI prints: rich tables for people, one JSON document for scripts (`--json`), errors on
stderr; and the client every command shares."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from stratus_client.client import Client
from stratus_client.errors import StratusError

if TYPE_CHECKING:
    from stratus_client.models import Kpi

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document (for scripts)")]
Column = tuple[str, Callable[[Any], Any]]
KPI_COLUMNS: list[Column] = [
    ("kpi", lambda k: k.name),
    ("value", lambda k: k.value),
    ("unit", lambda k: k.unit),
]


@dataclass
class Session:
    """The root options every command sees."""

    url: str | None = None
    token: str | None = None
    quiet: bool = False

    def client(self, *, interactive: bool = True) -> Client:
        """A client; progress bars on stderr unless --quiet (or the command prints JSON)."""
        return Client(self.url, self.token, progress=interactive and not self.quiet)


def session(ctx: typer.Context) -> Session:
    """The session the root callback stored."""
    found = ctx.find_root().obj
    return found if isinstance(found, Session) else Session()


def plain(value: Any) -> Any:
    """Models (and lists of them) as JSON-ready data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def print_json(value: Any) -> None:
    """One JSON document on stdout."""
    print(json.dumps(plain(value), indent=2, default=str))


def print_table(rows: Sequence[Any], columns: Sequence[Column], title: str | None = None) -> None:
    """Rows as a table, each column read from a row by its function."""
    table = Table(title=title, show_lines=False)
    for index, (header, _read) in enumerate(columns):
        # The first column is an id and the second a status: neither is worth reading broken in two.
        table.add_column(header, overflow="fold", no_wrap=index < 2)
    for row in rows:
        table.add_row(*(_cell(read(row)) for _header, read in columns))
    stdout.print(table)


def print_record(record: BaseModel, fields: Sequence[str]) -> None:
    """One record as `field  value` lines."""
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    data = record.model_dump(mode="json")
    for name in fields:
        if data.get(name) not in (None, "", [], {}):
            table.add_row(name, _cell(data[name]))
    stdout.print(table)


def print_kpis(kpis: Mapping[str, Kpi]) -> None:
    """A job's KPIs as a table of name, value and unit (nothing when it reported none)."""
    if kpis:
        print_table(list(kpis.values()), KPI_COLUMNS, title="KPIs")


def percent(value: float) -> str:
    """A job's progress (0..1) as people read it."""
    return f"{value:.0%}"


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | dict):
        return json.dumps(value) if value else ""
    return "" if value is None else str(value)


def report_error(error: StratusError) -> None:
    """An error as one line on stderr: the detail, then the code (and status) to branch on."""
    where = f", status {error.status}" if error.status is not None else ""
    detail = escape(error.detail)
    stderr.print(f"[red]error:[/red] {detail} [dim](code {error.code}{where})[/dim]", highlight=False)


def short(identifier: str | None) -> str:
    return (identifier or "")[:8]
