"""What `make dev` keeps across restarts: open the stack's state folder (restore it and make it
consistent, or start empty with --fresh) and say so in one banner line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

from stratus.local.recovery import STOPPED_MESSAGE, recover
from stratus.local.state import SAVE_INTERVAL_S, StateFolder

if TYPE_CHECKING:
    from pathlib import Path

    from stratus.local.bootstrap import LocalStack
    from stratus.stores import Stores

IN_MEMORY = "in memory only (--in-memory): nothing is kept when it stops"


def open_state(
    directory: Path | None, fresh: bool, stack: LocalStack, stores: Stores
) -> tuple[StateFolder | None, str]:
    """The stack's state folder (None to keep nothing), restored into ``stack`` unless ``fresh``, and the
    banner's line about it. Raises StateError."""
    if directory is None:
        return None, IN_MEMORY
    folder = StateFolder(
        directory.resolve(),
        stack.stack_name,
        boto3.client("dynamodb"),
        boto3.client("s3"),
        stack.table_name,
        stack.data_bucket,
    )
    if fresh:
        folder.clear()
        return folder, f"{folder.root} (started empty: --fresh; kept from now on)"
    restored = folder.restore()
    if not (restored.objects or restored.records):
        return folder, f"{folder.root} (nothing to restore; saved on stop and every {SAVE_INTERVAL_S:.0f} s)"
    recovered = recover(restored.items, stores)
    ended = (
        f"; {recovered.jobs} jobs and {recovered.workflows} workflows marked FAILED ({STOPPED_MESSAGE})"
        if recovered.jobs or recovered.workflows
        else ""
    )
    if recovered.campaigns:
        ended += f"; {recovered.campaigns} campaigns PAUSED (resume them to go on)"
    return folder, (
        f"{folder.root} ({restored.objects} objects, {restored.records} records restored{ended}; "
        "--fresh starts empty)"
    )
