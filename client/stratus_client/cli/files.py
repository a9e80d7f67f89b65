"""`stratus files`: upload, download, list, status, delete."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stratus_client.cli.output import JsonOption, print_json, print_table, session, stderr

app = typer.Typer(no_args_is_help=True, help="Upload, download, list and delete HDF5 files (and tables).")
FILE_COLUMNS = [
    ("file_id", lambda f: f.file_id),
    ("name", lambda f: f.name),
    ("status", lambda f: f.status),
    ("size", lambda f: f.size),
    ("created", lambda f: f.time_created),
    ("expires", lambda f: f.expires_at),
    ("reason", lambda f: f.reason),
]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="files")


@app.command()
def upload(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(
            exists=True, dir_okay=False, help="HDF5 files, or tables (.csv, .json, .xlsx) to convert"
        ),
    ],
    part_size: Annotated[int | None, typer.Option(help="Bytes per part: force a multipart upload")] = None,
    as_json: JsonOption = False,
) -> None:
    """Upload files (streamed; large ones through presigned URLs, in parallel parts) and wait for READY."""
    with session(ctx).client(interactive=not as_json) as client:
        infos = [client.upload(path, part_size=part_size) for path in paths]
    if as_json:
        print_json(infos)
    else:
        print_table(infos, FILE_COLUMNS)


@app.command()
def download(
    ctx: typer.Context,
    file_ids: Annotated[list[str], typer.Argument(help="File ids")],
    out: Annotated[Path, typer.Option("--out", "-o", help="A folder, or a file name for one id")] = Path(),
    as_json: JsonOption = False,
) -> None:
    """Download files (streamed, with progress); a folder gets `<file_id>.h5` names."""
    if len(file_ids) > 1:
        out.mkdir(parents=True, exist_ok=True)
    with session(ctx).client(interactive=not as_json) as client:
        paths = [client.download(file_id, out) for file_id in file_ids]
    if as_json:
        print_json([str(path) for path in paths])
    else:
        for path in paths:
            print(path)


@app.command("ls")
def list_files(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="PENDING, READY or REJECTED")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 50,
    as_json: JsonOption = False,
) -> None:
    """Your files, newest first."""
    with session(ctx).client() as client:
        page = client.list_files(limit=limit, status=status)
    if as_json:
        print_json(page)
    else:
        print_table(page.items, FILE_COLUMNS)


@app.command()
def status(ctx: typer.Context, file_id: str, as_json: JsonOption = False) -> None:
    """One file's status (PENDING, READY, REJECTED with the reason), size and expiry."""
    with session(ctx).client() as client:
        info = client.file_status(file_id)
    if as_json:
        print_json(info)
    else:
        print_table([info], FILE_COLUMNS)


@app.command("rm")
def remove(ctx: typer.Context, file_ids: list[str]) -> None:
    """Delete files now (a file a live job or a sample holds is a 409 `file_in_use`)."""
    with session(ctx).client() as client:
        for file_id in file_ids:
            client.delete_file(file_id)
            stderr.print(f"deleted {file_id}", highlight=False)
