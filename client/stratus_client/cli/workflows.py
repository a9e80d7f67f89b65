"""`stratus workflows`: submit a DAG from a YAML or JSON file, follow it, pause, resume, cancel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from stratus_client.cli.output import JsonOption, percent, print_json, print_record, print_table, session
from stratus_client.errors import InvalidInputError

app = typer.Typer(no_args_is_help=True, help="Workflows: DAGs of execution and training steps.")
WORKFLOW_COLUMNS = [
    ("id", lambda w: w.id),
    ("name", lambda w: w.name),
    ("status", lambda w: w.status),
    ("progress", lambda w: percent(w.progress)),
    ("steps", lambda w: f"{w.completed_steps}/{w.total_steps}"),
    ("created", lambda w: w.created_at),
]
STEP_COLUMNS = [
    ("step", lambda s: s.step_id),
    ("status", lambda s: s.status),
    ("after", lambda s: ", ".join(s.dependencies)),
    ("task_id", lambda s: s.task_id),
    ("cached_from", lambda s: s.cached_from),
    ("error", lambda s: s.error_message),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="workflows")


def read_definition(path: Path) -> Any:
    """A workflow file: YAML (with the `yaml` extra: pip install 'stratus-client[yaml]') or JSON."""
    text = path.read_text()
    if path.suffix.lower() not in (".yaml", ".yml"):
        return json.loads(text)
    try:
        import yaml  # the optional extra: JSON files need nothing more
    except ImportError as exc:
        raise InvalidInputError(
            f"{path} is YAML: install PyYAML (pip install 'stratus-client[yaml]') or use JSON"
        ) from exc
    return yaml.safe_load(text)


def _show(workflow: Any, as_json: bool) -> None:
    if as_json:
        print_json(workflow)
        return
    print_record(workflow, ["id", "name", "status", "progress", "completed_steps", "total_steps",
                            "error_message", "duration_ms"])  # fmt: skip
    if workflow.steps:
        print_table(workflow.steps, STEP_COLUMNS)


@app.command()
def submit(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="FILE.yaml or FILE.json")],
    start: Annotated[bool, typer.Option(help="Start it now")] = True,
    wait: Annotated[bool, typer.Option(help="Follow it to the end")] = False,
    timeout: Annotated[float | None, typer.Option(help="Give up waiting after this many seconds")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a workflow; steps may name algorithms (`algorithm: threshold`) and list local input files
    (relative to the file), uploaded first."""
    with session(ctx).client(interactive=not as_json) as client:
        workflow = client.submit_workflow(read_definition(path), start=start, base_dir=path.parent)
        if wait:
            workflow = client.wait_workflow(workflow.id, timeout=timeout)
    _show(workflow, as_json)


@app.command("ls")
def list_workflows(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Your workflows, newest first."""
    with session(ctx).client() as client:
        page = client.list_workflows(limit=limit, status=status)
    print_json(page) if as_json else print_table(page.items, WORKFLOW_COLUMNS)


@app.command()
def show(ctx: typer.Context, workflow_id: str, as_json: JsonOption = False) -> None:
    """A workflow and each step's state."""
    with session(ctx).client() as client:
        _show(client.get_workflow(workflow_id), as_json)


def _action(name: str, summary: str) -> None:
    def command(ctx: typer.Context, workflow_id: str, as_json: JsonOption = False) -> None:
        with session(ctx).client() as client:
            _show(client.workflow_action(workflow_id, name), as_json)

    command.__doc__ = summary
    app.command(name)(command)


_action("pause", "RUNNING → PAUSED: no new step starts; running steps finish.")
_action("resume", "PAUSED or FAILED → RUNNING: failed, skipped and never-run steps run.")
_action("cancel", "Cancel: running steps' jobs are stopped.")
_action("start", "Start a workflow submitted with --no-start.")


@app.command()
def retry(ctx: typer.Context, workflow_id: str, step_id: str, as_json: JsonOption = False) -> None:
    """Run one FAILED step again."""
    with session(ctx).client() as client:
        _show(client.retry_workflow_step(workflow_id, step_id), as_json)
