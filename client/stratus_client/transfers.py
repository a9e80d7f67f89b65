"""Moving bytes: how an upload is split, reading a part straight from disk, retry delays, progress bars."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from stratus_client.errors import StratusError

if TYPE_CHECKING:
    from stratus_client.models import Upload

# The API takes a raw body up to 4 MiB (POST /files); anything larger goes through presigned URLs.
DIRECT_UPLOAD_LIMIT = 4 * 1024 * 1024
# What the API takes as a file's name (stratus.models.files.FILE_NAME_PATTERN).
_UNSENDABLE = re.compile(r"[/\\\x00-\x1f\x7f]")
MAX_NAME_CHARS = 255
# What is read from disk at a time: a part is streamed in these, never held whole in memory.
CHUNK_BYTES = 1024 * 1024
PART_CONCURRENCY = 4
PART_ATTEMPTS = 4
RETRY_BASE_DELAY_S = 0.5
# A download's name when the API gives none.
FILENAME_PATTERN = re.compile(r'filename="?([^";]+)"?')


@dataclass(frozen=True)
class PartPlan:
    """One part of a multipart upload: which bytes of the file go to which URL."""

    number: int
    offset: int
    size: int
    url: str


def upload_name(path: Path) -> str:
    """The name a file is uploaded under: its own, with what the API refuses in a name (folders, control
    characters) replaced. Its extension tells the API a table (.csv, .json, .xlsx) to convert to HDF5."""
    return _UNSENDABLE.sub("_", path.name)[:MAX_NAME_CHARS]


def is_direct_upload(size: int, part_size: int | None) -> bool:
    """Whether a file goes in the request body (small, and no multipart asked for)."""
    return part_size is None and 0 < size <= DIRECT_UPLOAD_LIMIT


def plan_parts(upload: Upload, file_size: int) -> list[PartPlan]:
    """The parts the API announced, placed at their offsets; they must cover the file exactly."""
    plans, offset = [], 0
    for part in sorted(upload.parts, key=lambda p: p.part_number):
        plans.append(PartPlan(part.part_number, offset, part.size, part.url))
        offset += part.size
    if offset != file_size:
        raise ValueError(f"the upload's parts cover {offset} bytes, the file has {file_size}")
    return plans


def retry_delays(attempts: int = PART_ATTEMPTS, base: float = RETRY_BASE_DELAY_S) -> list[float]:
    """Seconds to wait before each retry: doubling from ``base`` (attempts - 1 of them)."""
    return [base * 2**index for index in range(attempts - 1)]


def is_retryable_status(status: int) -> bool:
    """S3 answers worth another try: throttling, timeouts and server errors (not a bad signature)."""
    return status >= 500 or status in (408, 429)


def part_answer(response: httpx.Response | None, error: httpx.TransportError | None) -> str | None:
    """A part PUT's outcome: None when S3 took it, else why it failed (worth another try). Raises
    StratusError for an answer no retry changes."""
    if response is None:
        return f"{type(error).__name__}: {error}"
    if response.is_success:
        return None
    failure = f"S3 answered {response.status_code}: {response.text[:300]}"
    if not is_retryable_status(response.status_code):
        raise StratusError(f"upload refused: {failure}", status=response.status_code)
    return failure


def give_up(failure: str) -> StratusError:
    """The error of a part that failed on every try."""
    return StratusError(f"upload failed after retries: {failure}", code="upload_failed")


def read_range(
    path: Path, offset: int, size: int, on_chunk: Callable[[int], None] | None = None
) -> Iterator[bytes]:
    """``size`` bytes of ``path`` from ``offset``, CHUNK_BYTES at a time (``on_chunk`` hears each size)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        left = size
        while left > 0:
            chunk = handle.read(min(CHUNK_BYTES, left))
            if not chunk:
                raise ValueError(f"{path} is shorter than expected (changed while uploading?)")
            left -= len(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
            yield chunk


async def aread_range(
    path: Path, offset: int, size: int, on_chunk: Callable[[int], None] | None = None
) -> AsyncIterator[bytes]:
    """``read_range`` for an event loop: each disk read runs in a thread."""
    chunks = read_range(path, offset, size, on_chunk)
    while True:
        chunk = await asyncio.to_thread(next, chunks, None)
        if chunk is None:
            return
        yield chunk


def filename_of(content_disposition: str | None, fallback: str) -> str:
    """The file name a download's Content-Disposition gives, without any directory part."""
    match = FILENAME_PATTERN.search(content_disposition or "")
    name = Path(match.group(1)).name if match else ""
    return name or fallback


class ProgressBar:
    """A rich progress bar on stderr, or nothing when disabled (the default for library use)."""

    def __init__(self, description: str, total: float | None, *, enabled: bool, transfer: bool) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if not enabled:
            return
        columns = [TextColumn("{task.description}"), BarColumn()]
        if transfer:
            columns += [DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn()]
        else:
            columns += [TextColumn("{task.percentage:>3.0f}%")]
        self._progress = Progress(*columns, console=Console(stderr=True), transient=False)
        self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, amount: float) -> None:
        """Add ``amount`` (negative after a failed attempt) to what is done; thread-safe."""
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, amount)

    def update(self, completed: float | None = None, description: str | None = None) -> None:
        """Set what is done (and the label)."""
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=completed, description=description)

    def print(self, text: str) -> None:
        """A line above the bar (a log line), or on stderr when there is no bar."""
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
