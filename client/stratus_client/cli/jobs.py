"""`stratus run`, `stratus train` and the `executions`, `trainings`, `samples` and `checkpoints` groups."""

from __future__ import annotations

import time
from pathlib import Path
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
    stderr,
)
from stratus_client.jobs import POLL_MAX_S
from stratus_client.schema import parse_assignments

if TYPE_CHECKING:
    from stratus_client.models import LogPage

executions = typer.Typer(no_args_is_help=True, help="List, inspect, follow and stop executions.")
trainings = typer.Typer(no_args_is_help=True, help="List, inspect, follow and stop trainings.")
samples = typer.Typer(no_args_is_help=True, help="Training samples: files grouped under roles.")
checkpoints = typer.Typer(no_args_is_help=True, help="Checkpoints saved by trainings.")
ParameterOption = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE, typed by the algorithm's schema")
]
TimeoutOption = Annotated[float | None, typer.Option(help="Give up waiting after this many seconds")]
EXECUTION_COLUMNS = [
    ("execution_id", lambda e: e.execution_id),
    ("status", lambda e: e.status),
    ("progress", lambda e: percent(e.progress)),
    ("algorithm", lambda e: short(e.algorithm_id)),
    ("inputs", lambda e: len(e.input_dataset_ids)),
    ("outputs", lambda e: len(e.output_dataset_ids)),
    ("created", lambda e: e.time_created),
]
EXECUTION_FIELDS = ["execution_id", "status", "progress", "algorithm_id", "algorithm_minor_version",
                    "input_dataset_ids", "output_dataset_ids", "additional_parameters",
                    "resolved_execution_device", "time_started", "time_completed", "error"]  # fmt: skip
TRAINING_COLUMNS = [
    ("training_id", lambda t: t.training_id),
    ("status", lambda t: t.status),
    ("progress", lambda t: percent(t.progress)),
    ("step", lambda t: f"{t.current_step}/{t.total_steps}"),
    ("rounds", lambda t: len(t.rounds)),
    ("best_checkpoint_id", lambda t: t.best_checkpoint_id),
    ("created", lambda t: t.time_created),
]
TRAINING_FIELDS = ["training_id", "status", "progress", "algorithm_id", "training_data", "validation_data",
                   "additional_parameters", "current_round", "current_step", "total_steps", "eta_seconds",
                   "output_checkpoint_ids", "best_checkpoint_id", "resolved_device", "error"]  # fmt: skip


def register(root: typer.Typer) -> None:
    root.command("run")(run)
    root.command("train")(train)
    root.add_typer(executions, name="executions")
    root.add_typer(trainings, name="trainings")
    root.add_typer(samples, name="samples")
    root.add_typer(checkpoints, name="checkpoints")


def run(
    ctx: typer.Context,
    algorithm: Annotated[str, typer.Argument(help="An id, a name, or name:major")],
    files: Annotated[list[str], typer.Argument(help="Local HDF5 files (uploaded first) or file ids")],
    param: ParameterOption = None,
    wait: Annotated[
        bool, typer.Option(help="Follow it to the end (progress and log lines on stderr)")
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Download the outputs into this folder (implies --wait)")
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N (default: the algorithm's)")] = None,
    checkpoint: Annotated[str | None, typer.Option(help="Run with a training's checkpoint")] = None,
    timeout: TimeoutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run an algorithm; parameters are checked against its schema before anything is sent."""
    options = session(ctx)
    follow = not options.quiet and not as_json
    with options.client(interactive=not as_json) as client:
        found = client.get_algorithm(algorithm)
        values = parse_assignments(param or [], found.parameter_schema)
        execution = client.run(
            found, files, values, wait=wait or out is not None, timeout=timeout, logs=follow,
            execution_device_override=device, checkpoint_id=checkpoint,
        )  # fmt: skip
        downloads = []
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            downloads = [str(client.download(file_id, out)) for file_id in execution.output_dataset_ids]
    if as_json:
        print_json({**execution.model_dump(mode="json"), **({"downloads": downloads} if out else {})})
        return
    print_record(execution, EXECUTION_FIELDS)
    print_kpis(execution.kpis)
    for path in downloads:
        print(path)


def train(
    ctx: typer.Context,
    algorithm: Annotated[str, typer.Argument(help="An id, a name, or name:major")],
    sample_ids: Annotated[list[str], typer.Argument(help="Training samples, in round order")],
    param: ParameterOption = None,
    validation: Annotated[list[str] | None, typer.Option(help="A validation sample (repeat)")] = None,
    rounds: Annotated[int | None, typer.Option(help="Split the samples into this many rounds")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag for the checkpoints (repeat)")] = None,
    wait: Annotated[bool, typer.Option(help="Follow it to the end")] = False,
    timeout: TimeoutOption = None,
    as_json: JsonOption = False,
) -> None:
    """Train an algorithm on samples."""
    options = session(ctx)
    with options.client(interactive=not as_json) as client:
        values = parse_assignments(param or [])
        training = client.train(
            algorithm, sample_ids, values, wait=wait, timeout=timeout,
            logs=not options.quiet and not as_json, validation_data=validation, rounds=rounds, tags=tag,
        )  # fmt: skip
    if as_json:
        print_json(training)
    else:
        print_record(training, TRAINING_FIELDS)
        print_kpis(training.kpis)


def _follow(read: Any, get: Any, job_id: str, follow: bool) -> None:
    """Print a job's log lines; with ``follow``, keep reading until the job has ended."""
    next_line = 0
    while True:
        final = get(job_id).is_final if follow else True
        page: LogPage = read(job_id, next_line)
        for line in page.lines:
            print(line.text, flush=True)
        next_line = page.next_line
        if final and not page.lines:
            return
        if not page.lines:
            time.sleep(POLL_MAX_S / 2)


@executions.command("ls")
def list_executions(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="PENDING, RUNNING, COMPLETED, …")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Your executions, newest first."""
    with session(ctx).client() as client:
        page = client.list_executions(limit=limit, status=status)
    print_json(page) if as_json else print_table(page.items, EXECUTION_COLUMNS)


@executions.command("show")
def show_execution(ctx: typer.Context, execution_id: str, as_json: JsonOption = False) -> None:
    """One execution's record."""
    with session(ctx).client() as client:
        record = client.get_execution(execution_id)
    if as_json:
        print_json(record)
        return
    print_record(record, EXECUTION_FIELDS)
    print_kpis(record.kpis)


@executions.command("logs")
def execution_logs(
    ctx: typer.Context,
    execution_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until it ends")] = False,
) -> None:
    """An execution's whole log."""
    with session(ctx).client() as client:
        _follow(client.execution_logs, client.get_execution, execution_id, follow)


@executions.command("stop")
def stop_execution(ctx: typer.Context, execution_id: str) -> None:
    """Stop a PENDING, STARTED or RUNNING execution."""
    with session(ctx).client() as client:
        client.stop_execution(execution_id)
    stderr.print(f"stopped {execution_id}", highlight=False)


@trainings.command("ls")
def list_trainings(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Your trainings, newest first."""
    with session(ctx).client() as client:
        page = client.list_trainings(limit=limit, status=status)
    print_json(page) if as_json else print_table(page.items, TRAINING_COLUMNS)


@trainings.command("show")
def show_training(ctx: typer.Context, training_id: str, as_json: JsonOption = False) -> None:
    """One training's record: rounds, steps, checkpoints."""
    with session(ctx).client() as client:
        record = client.get_training(training_id)
    if as_json:
        print_json(record)
        return
    print_record(record, TRAINING_FIELDS)
    print_kpis(record.kpis)


@trainings.command("logs")
def training_logs(
    ctx: typer.Context,
    training_id: str,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until it ends")] = False,
) -> None:
    """A training's whole log."""
    with session(ctx).client() as client:
        _follow(client.training_logs, client.get_training, training_id, follow)


@trainings.command("stop")
def stop_training(ctx: typer.Context, training_id: str) -> None:
    """Stop a training; it keeps the checkpoints saved so far."""
    with session(ctx).client() as client:
        client.stop_training(training_id)
    stderr.print(f"stopped {training_id}", highlight=False)


@samples.command("create")
def create_sample(
    ctx: typer.Context,
    files: Annotated[list[str], typer.Argument(help="ROLE=FILE pairs (a local file or a file id)")],
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeat)")] = None,
    as_json: JsonOption = False,
) -> None:
    """One sample of one entry, e.g. `input=volume.h5 target=mask.h5`."""
    entry: dict[str, list[str]] = {}
    for pair in files:
        role, sep, item = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"expected ROLE=FILE, got {pair!r}")
        entry.setdefault(role, []).append(item)
    with session(ctx).client(interactive=not as_json) as client:
        sample = client.create_sample([entry], tag or [])
    print_json(sample) if as_json else print(sample.sample_id)


@samples.command("ls")
def list_samples(
    ctx: typer.Context, tag: Annotated[list[str] | None, typer.Option()] = None, as_json: JsonOption = False
) -> None:
    """Your samples (with every --tag), newest first."""
    with session(ctx).client() as client:
        found = client.list_samples(tag or [])
    columns = [("sample_id", lambda s: s.sample_id), ("entries", lambda s: len(s.files)),
               ("tags", lambda s: ", ".join(s.tags)), ("created", lambda s: s.time_created)]  # fmt: skip
    print_json(found) if as_json else print_table(found, columns)


@checkpoints.command("ls")
def list_checkpoints(
    ctx: typer.Context, tag: Annotated[list[str] | None, typer.Option()] = None, as_json: JsonOption = False
) -> None:
    """Your checkpoints (with every --tag), newest first."""
    with session(ctx).client() as client:
        found = client.list_checkpoints(tag or [])
    columns = [("checkpoint_id", lambda c: c.checkpoint_id), ("training_id", lambda c: c.training_id),
               ("round", lambda c: c.round), ("properties", lambda c: c.properties),
               ("created", lambda c: c.created_at)]  # fmt: skip
    print_json(found) if as_json else print_table(found, columns)
