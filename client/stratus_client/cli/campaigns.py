"""`stratus campaigns`: start a parameter sweep or an optimisation from a YAML or JSON body, follow it,
read its trials, best, plot and history; pause, resume, cancel, delete."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stratus_client.cli.output import (
    Column,
    JsonOption,
    print_json,
    print_record,
    print_table,
    session,
    short,
)
from stratus_client.cli.workflows import read_definition
from stratus_client.errors import InvalidInputError

if TYPE_CHECKING:
    from stratus_client.models import Campaign, Trial

app = typer.Typer(no_args_is_help=True, help="Campaigns: parameter sweeps and Bayesian optimisation.")
CAMPAIGN_COLUMNS = [
    ("id", lambda c: c.id),
    ("status", lambda c: c.status),
    ("name", lambda c: c.name),
    ("kind", lambda c: c.kind),
    ("budget", lambda c: c.budget),
    ("runs", lambda c: f"workflow {c.workflow['name']}" if c.workflow else short(c.algorithm_id)),
    ("created", lambda c: c.created_at),
]
CAMPAIGN_FIELDS = ["id", "name", "status", "kind", "algorithm_id", "algorithm_minor_version", "budget",
                   "batch_size", "counts", "parameters", "warm_start_trials", "errors",
                   "created_at", "completed_at"]  # fmt: skip
OPTIMIZER_COLUMNS: list[Column] = [
    ("name", lambda r: r["name"]),
    ("what", lambda r: r["what"]),
    ("takes", lambda r: _takes(r)),
    ("multi_objective", lambda r: r.get("multi_objective")),
    ("description", lambda r: r.get("description")),
]
IdArgument = Annotated[str, typer.Argument(help="The campaign's id")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="campaigns")


def _syntax_errors() -> tuple[type[Exception], ...]:
    """What a malformed body file raises: JSON's (a ValueError) and, with the yaml extra, YAML's."""
    try:
        import yaml
    except ImportError:
        return (ValueError,)
    return (ValueError, yaml.YAMLError)


def read_body(path: Path) -> dict[str, Any]:
    """A campaign request body from FILE.json or FILE.yaml. Raises InvalidInputError when the file does
    not hold one object."""
    try:
        body = read_definition(path)
    except _syntax_errors() as exc:
        raise InvalidInputError(f"{path} is not valid JSON or YAML: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidInputError(f"{path} must hold one object: the campaign's request body")
    return body


def _reader(group: str, name: str) -> Callable[[Trial], Any]:
    """A column reading one parameter (or KPI) of a trial."""
    return lambda trial: getattr(trial, group).get(name)


def _trial_columns(campaign: Campaign) -> list[Column]:
    """Number and status, a column per parameter and per objective, then the execution (or workflow)
    and error."""
    parameters = list(dict.fromkeys(name for t in campaign.trials for name in t.parameters))
    objectives = [o.get("name") for o in campaign.spec.get("objectives", []) if isinstance(o, dict)]
    kpis = [str(name) for name in objectives if name] or list(
        dict.fromkeys(name for t in campaign.trials for name in t.kpis)
    )
    columns: list[Column] = [("trial", lambda t: t.number), ("status", lambda t: t.status)]
    columns += [(name, _reader("parameters", name)) for name in parameters]
    columns += [(name, _reader("kpis", name)) for name in kpis]
    run = (
        ("workflow", lambda t: short(t.workflow_id))
        if campaign.workflow
        else ("execution", lambda t: short(t.execution_id))
    )
    columns += [run, ("error", lambda t: t.error)]
    return columns


def _step_ids(template: dict[str, Any]) -> str:
    return ", ".join(str(s.get("id")) for s in template.get("steps", []) if isinstance(s, dict))


def _show(campaign: Campaign, as_json: bool) -> None:
    if as_json:
        print_json(campaign)
        return
    print_record(campaign, CAMPAIGN_FIELDS)
    if campaign.workflow:  # the template's name and steps (--json has it whole)
        print_table([campaign.workflow], [("workflow", lambda w: w.get("name")), ("steps", _step_ids)])
    columns = _trial_columns(campaign)
    if campaign.trials:
        print_table(campaign.trials, columns, title="trials")
    best = campaign.best
    if best is not None and best.pareto_front:
        print_table(best.pareto_front, columns, title="Pareto front")
    elif best is not None and best.trial is not None:
        trials: list[Trial] = [t for t in campaign.trials if t.number == best.trial]
        print_table(trials, columns, title="best")


@app.command()
def create(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="FILE.json or FILE.yaml")],
    rows: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="A configuration table (CSV): kind table's rows"),
    ] = None,
    existing_data: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="A history CSV (… history) to warm-start from"),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Follow it to the end")] = False,
    timeout: Annotated[float | None, typer.Option(help="Give up waiting after this many seconds")] = None,
    as_json: JsonOption = False,
) -> None:
    """Start a campaign; the file is the request body, which may name its algorithm (`algorithm:
    branin`) and list local input files (relative to the file) in `input_dataset_ids`, uploaded first;
    or hold a `workflow:` whose steps do the same. `--rows` and `--existing-data` send CSV files as the
    body's `rows_csv` and `existing_data.csv`."""
    body = read_body(path)
    if rows is not None:
        body["rows_csv"] = rows.read_text(encoding="utf-8")
    if existing_data is not None:
        body["existing_data"] = {"csv": existing_data.read_text(encoding="utf-8")}
    with session(ctx).client(interactive=not as_json) as client:
        created = client.create_campaign(body, base_dir=path.parent)
        if wait:
            campaign = client.wait_campaign(created.campaign_id, timeout=timeout)
        else:
            campaign = client.get_campaign(created.campaign_id)
    _show(campaign, as_json)


@app.command("ls")
def list_campaigns(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only this status, e.g. RUNNING")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Your campaigns, newest first."""
    with session(ctx).client() as client:
        page = client.list_campaigns(limit=limit, status=status)
    print_json(page) if as_json else print_table(page.items, CAMPAIGN_COLUMNS)


@app.command()
def show(ctx: typer.Context, campaign_id: IdArgument, as_json: JsonOption = False) -> None:
    """A campaign, its trials (a column per parameter and objective) and the best so far."""
    with session(ctx).client() as client:
        _show(client.get_campaign(campaign_id), as_json)


def _action(name: str, summary: str) -> None:
    def command(ctx: typer.Context, campaign_id: IdArgument, as_json: JsonOption = False) -> None:
        with session(ctx).client() as client:
            _show(client.campaign_action(campaign_id, name), as_json)

    command.__doc__ = summary
    app.command(name)(command)


_action("pause", "RUNNING → PAUSED: no new trial starts; running trials finish.")
_action("resume", "PAUSED → RUNNING: the trials that ran meanwhile are collected, and new ones start.")
_action("cancel", "RUNNING or PAUSED → CANCELLED: running trials' executions are stopped.")


@app.command("rm")
def remove(ctx: typer.Context, campaign_id: IdArgument) -> None:
    """Cancel a campaign if it runs, then delete it, its trials and its plot."""
    with session(ctx).client() as client:
        client.delete_campaign(campaign_id)


@app.command()
def plot(
    ctx: typer.Context,
    campaign_id: IdArgument,
    out: Annotated[Path, typer.Option("--out", "-o", dir_okay=False, help="Where to save the PNG")],
) -> None:
    """Save the latest plot (objective per trial with the best so far; the Pareto front for two)."""
    with session(ctx).client() as client:
        out.write_bytes(client.campaign_plot(campaign_id))
    print(out)


@app.command()
def history(
    ctx: typer.Context,
    campaign_id: IdArgument,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", dir_okay=False, help="Save here, not stdout")
    ] = None,
) -> None:
    """Every trial as CSV (a later campaign's `existing_data.csv` warm-starts from it)."""
    with session(ctx).client() as client:
        text = client.campaign_history(campaign_id)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text)
    print(out)


@app.command()
def optimizers(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """The campaign kinds and Bayesian optimizers, with their options."""
    with session(ctx).client() as client:
        found = client.campaign_optimizers()
    if as_json:
        print_json(found)
        return
    rows = [{"name": name, "what": "kind", **info} for name, info in found.get("kinds", {}).items()]
    rows += [
        {"name": name, "what": "optimizer", **info} for name, info in found.get("optimizers", {}).items()
    ]
    print_table(rows, OPTIMIZER_COLUMNS, title=f"default optimizer: {found.get('default_optimizer', '')}")


def _takes(row: dict[str, Any]) -> str:
    """What a kind's search space takes, or an optimizer's option names."""
    return str(row.get("parameters") or ", ".join(row.get("options_schema", {}).get("properties", {})))
