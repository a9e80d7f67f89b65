"""Moving file bytes for the sync client: uploads (direct, presigned, multipart in parallel) and
streamed downloads."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import httpx

from stratus_client import endpoints
from stratus_client.errors import FileRejectedError, error_from_response
from stratus_client.jobs import Backoff
from stratus_client.transfers import (
    PART_CONCURRENCY,
    ProgressBar,
    filename_of,
    give_up,
    is_direct_upload,
    part_answer,
    plan_parts,
    read_range,
    retry_delays,
    upload_name,
)

if TYPE_CHECKING:
    from stratus_client.endpoints import Call
    from stratus_client.models import FileInfo

T = TypeVar("T")


class FileTransfers:
    """The upload and download methods of ``Client``, which provides the HTTP clients and ``call``."""

    _api: httpx.Client
    _storage: httpx.Client
    progress: bool

    def call(self, call: Call[T]) -> T:
        raise NotImplementedError

    def _show(self, progress: bool | None) -> bool:
        return self.progress if progress is None else progress

    def file_status(self, file_id: str) -> FileInfo:
        return self.call(endpoints.file_status(file_id))

    def upload(
        self,
        path: str | Path,
        *,
        part_size: int | None = None,
        wait: bool = True,
        timeout: float = 600.0,
        progress: bool | None = None,
    ) -> FileInfo:
        """Upload an HDF5 file, or a table (.csv, .json, .xlsx) the API converts to HDF5: in the body up to
        4 MiB, else through presigned URLs (one PUT, or parts in parallel when the API splits it or
        ``part_size`` asks), streamed from disk; then wait until ingestion accepts it. Raises
        FileRejectedError when it does not (a table's reason names the row and column at fault)."""
        path = Path(path)
        size = path.stat().st_size
        name = upload_name(path)
        with ProgressBar(f"upload {path.name}", size, enabled=self._show(progress), transfer=True) as bar:
            if is_direct_upload(size, part_size):
                file_id = self.call(endpoints.upload_direct(path.read_bytes(), name))
                bar.advance(size)
                return self.file_status(file_id)  # validated before it was stored: READY already
            upload = self.call(endpoints.start_upload(size, part_size, name))
            if upload.upload_url:
                self._put(upload.upload_url, path, 0, size, bar)
            else:
                with ThreadPoolExecutor(PART_CONCURRENCY, thread_name_prefix="stratus-part") as pool:
                    futures = {
                        part.number: pool.submit(self._put, part.url, path, part.offset, part.size, bar)
                        for part in plan_parts(upload, size)
                    }
                    etags = {number: future.result() for number, future in futures.items()}
                self.call(endpoints.complete_upload(upload.file_id, etags))
        return self.wait_for_file(upload.file_id, timeout) if wait else self.file_status(upload.file_id)

    def _put(self, url: str, path: Path, offset: int, size: int, bar: ProgressBar) -> str:
        """PUT ``size`` bytes of the file from ``offset`` to a presigned URL, retrying transient failures
        with backoff; the ETag S3 answered."""
        for delay in [*retry_delays(), None]:
            sent = 0

            def count(amount: int) -> None:
                nonlocal sent
                sent += amount
                bar.advance(amount)

            response, error = None, None
            try:
                response = self._storage.put(
                    url, content=read_range(path, offset, size, count), headers={"Content-Length": str(size)}
                )
            except httpx.TransportError as exc:
                error = exc
            failure = part_answer(response, error)
            if failure is None and response is not None:
                return str(response.headers.get("etag", ""))
            bar.advance(-sent)
            if delay is None:
                raise give_up(str(failure))
            time.sleep(delay)
        raise AssertionError("unreachable")  # the last delay is None

    def wait_for_file(self, file_id: str, timeout: float = 600.0) -> FileInfo:
        """Poll until ingestion has decided: the READY file, or FileRejectedError."""
        backoff = Backoff(f"ingestion of file {file_id}", timeout)
        while True:
            info = self.file_status(file_id)
            if info.status == "READY":
                return info
            if info.status == "REJECTED":
                raise FileRejectedError(file_id, info.reason)
            time.sleep(backoff.next_delay())

    def download(self, file_id: str, dest: str | Path = ".", *, progress: bool | None = None) -> Path:
        """Stream a file to ``dest`` (a folder: named as the API names it, `<file_id>.h5`); the path."""
        with self._api.stream("GET", f"/files/{file_id}") as first:
            if first.status_code >= 400:
                first.read()
                raise error_from_response(first)
            if first.is_redirect:  # a large file: a short-lived presigned URL
                with self._storage.stream("GET", first.headers["location"]) as response:
                    return self._save(response, file_id, Path(dest), self._show(progress), first.headers)
            return self._save(first, file_id, Path(dest), self._show(progress), first.headers)

    @staticmethod
    def _save(
        response: httpx.Response, file_id: str, dest: Path, show: bool, api_headers: httpx.Headers
    ) -> Path:
        if response.status_code >= 400:
            response.read()
            raise error_from_response(response)
        disposition = response.headers.get("content-disposition") or api_headers.get("content-disposition")
        if dest.is_dir():
            dest = dest / filename_of(disposition, f"{file_id}.h5")
        total = int(response.headers.get("content-length", 0)) or None
        partial = dest.with_name(dest.name + ".part")
        bar = ProgressBar(f"download {dest.name}", total, enabled=show, transfer=True)
        with bar, partial.open("wb") as handle:
            for chunk in response.iter_bytes():
                handle.write(chunk)
                bar.advance(len(chunk))
        return partial.replace(dest)
