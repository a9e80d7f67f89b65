"""`stratus workspaces` and `stratus scenarios`: named folders of saved runs, and the runs themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from stratus_client.cli.output import (
    JsonOption,
    percent,
    print_json,
    print_kpis,
    print_record,
    print_table,
    session,
    short,
)
from stratus_client.schema import parse_assignments

if TYPE_CHECKING:
    from stratus_client.client import Client
    from stratus_client.models import Scenario, WorkspaceList

workspaces = typer.Typer(no_args_is_help=True, help="Workspaces: named folders of scenarios.")
scenarios = typer.Typer(
    no_args_is_help=True, help="Scenarios: data, algorithm and parameters, run on demand."
)
WorkspaceOption = Annotated[
    str | None, typer.Option("--workspace", "-w", help="Workspace id (default: the default workspace)")
]
WORKSPACE_COLUMNS = [
    ("id", lambda w: w.id),
    ("display_name", lambda w: w.display_name),
    ("scenarios", lambda w: w.scenario_count),
    ("created", lambda w: w.created_at),
]
SCENARIO_COLUMNS = [
    ("id", lambda s: s.id),
    ("status", lambda s: s.status),
    ("tag", lambda s: s.tag),
    ("progress", lambda s: percent(s.progress)),
    ("algorithm", lambda s: short(s.algorithm_id)),
    ("execution", lambda s: short(s.execution_id)),
]
SCENARIO_FIELDS = ["id", "tag", "status", "progress", "workspace_id", "algorithm_id", "parameters",
                   "dataset_ids", "execution_id", "result", "error"]  # fmt: skip


def register(root: typer.Typer) -> None:
    root.add_typer(workspaces, name="workspaces")
    root.add_typer(scenarios, name="scenarios")


def _show_workspaces(listed: WorkspaceList, as_json: bool) -> None:
    if as_json:
        print_json(listed)
        return
    print_table(listed.workspaces, WORKSPACE_COLUMNS, title=f"default: {listed.default}")


def _show(scenario: Any, as_json: bool) -> None:
    if as_json:
        print_json(scenario)
        return
    print_record(scenario, SCENARIO_FIELDS)
    print_kpis(getattr(scenario, "kpis", {}))


def _workspace(client: Client, workspace: str | None) -> str:
    return workspace or client.list_workspaces().default


@workspaces.command("ls")
def list_workspaces(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Your workspaces, oldest (the default) first."""
    with session(ctx).client() as client:
        _show_workspaces(client.list_workspaces(), as_json)


@workspaces.command()
def create(ctx: typer.Context, display_name: str, as_json: JsonOption = False) -> None:
    """A new, empty workspace (names are unique)."""
    with session(ctx).client() as client:
        created = client.create_workspace(display_name)
    print_json(created) if as_json else print_record(created, ["id", "display_name"])


@workspaces.command()
def rename(ctx: typer.Context, workspace_id: str, display_name: str, as_json: JsonOption = False) -> None:
    """Give a workspace another name; its id stays."""
    with session(ctx).client() as client:
        renamed = client.rename_workspace(workspace_id, display_name)
    print_json(renamed) if as_json else print_record(renamed, ["id", "display_name"])


@workspaces.command()
def copy(ctx: typer.Context, workspace_id: str, display_name: str, as_json: JsonOption = False) -> None:
    """Copy a workspace: its scenarios, CREATED, with new ids; the data is shared."""
    with session(ctx).client() as client:
        copied = client.copy_workspace(workspace_id, display_name)
    print_json(copied) if as_json else print_record(copied, ["id", "display_name", "scenario_count"])


@workspaces.command("rm")
def remove_workspace(ctx: typer.Context, workspace_id: str, as_json: JsonOption = False) -> None:
    """Delete a workspace and its scenarios (the last one is replaced by a fresh `main`)."""
    with session(ctx).client() as client:
        _show_workspaces(client.delete_workspace(workspace_id), as_json)


@scenarios.command("ls")
def list_scenarios(
    ctx: typer.Context, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """A workspace's scenarios with their status."""
    with session(ctx).client() as client:
        found = client.list_scenarios(_workspace(client, workspace))
    print_json(found) if as_json else print_table(found, SCENARIO_COLUMNS)


@scenarios.command("create")
def create_scenario(
    ctx: typer.Context,
    tag: str,
    algorithm: Annotated[str, typer.Option("--algorithm", "-a", help="Id, name or name:major")],
    dataset: Annotated[
        list[str], typer.Option("--dataset", "-d", help="A file or sample id, or a local file (repeat)")
    ],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE, typed by the algorithm's schema")
    ] = None,
    workspace: WorkspaceOption = None,
    as_json: JsonOption = False,
) -> None:
    """Save a scenario (CREATED); parameters are checked against the algorithm's schema first."""
    with session(ctx).client() as client:
        found = client.get_algorithm(algorithm)
        values = parse_assignments(param or [], found.parameter_schema)
        created = client.create_scenario(_workspace(client, workspace), tag, found, dataset, values)
    _show(created, as_json)


@scenarios.command()
def run(
    ctx: typer.Context,
    scenario_id: str,
    workspace: WorkspaceOption = None,
    wait: Annotated[bool, typer.Option(help="Follow it to the end")] = False,
    timeout: Annotated[float | None, typer.Option(help="Give up waiting after this many seconds")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run a CREATED scenario as an execution."""
    with session(ctx).client(interactive=not as_json) as client:
        scenario = client.run_scenario(_workspace(client, workspace), scenario_id, wait=wait, timeout=timeout)
    _show(scenario, as_json)


@scenarios.command()
def reset(
    ctx: typer.Context, scenario_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """Back to CREATED with the result cleared, once its execution ended."""
    with session(ctx).client() as client:
        _show(client.reset_scenario(_workspace(client, workspace), scenario_id), as_json)


@scenarios.command()
def status(
    ctx: typer.Context, scenario_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """A scenario's status and progress."""
    with session(ctx).client() as client:
        state = client.scenario_status(_workspace(client, workspace), scenario_id)
    print_json(state) if as_json else print_record(state, ["id", "tag", "status", "progress"])


@scenarios.command()
def show(
    ctx: typer.Context, scenario_id: str, workspace: WorkspaceOption = None, as_json: JsonOption = False
) -> None:
    """A scenario with its result and KPIs."""
    with session(ctx).client() as client:
        scenario: Scenario = client.get_scenario(_workspace(client, workspace), scenario_id)
    _show(scenario, as_json)


@scenarios.command("rm")
def remove_scenario(ctx: typer.Context, scenario_id: str, workspace: WorkspaceOption = None) -> None:
    """Delete a scenario (its execution, if one runs, goes on)."""
    with session(ctx).client() as client:
        client.delete_scenario(_workspace(client, workspace), scenario_id)
