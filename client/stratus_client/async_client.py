"""The asynchronous client: the sync client's methods as coroutines (same endpoints, same rules)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from stratus_client import endpoints
from stratus_client.campaigns import AsyncCampaignMethods
from stratus_client.client import API_PREFIX, DEFAULT_TIMEOUT_S, START_ATTEMPTS, LogSink, log_sink
from stratus_client.config import resolve_settings
from stratus_client.errors import (
    ConflictError,
    ConnectionFailedError,
    FileRejectedError,
    error_from_response,
)
from stratus_client.jobs import Backoff, JobWatch, outcome
from stratus_client.packages import zip_package
from stratus_client.references import (
    apply_workflow_needs,
    input_path,
    parse_algorithm_ref,
    pick_algorithm,
    workflow_body,
    workflow_needs,
)
from stratus_client.schema import check_parameters
from stratus_client.transfers import (
    PART_CONCURRENCY,
    ProgressBar,
    aread_range,
    filename_of,
    give_up,
    is_direct_upload,
    part_answer,
    plan_parts,
    retry_delays,
    upload_name,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from stratus_client.endpoints import Call
    from stratus_client.models import (
        Algorithm,
        AlgorithmDeployed,
        Checkpoint,
        Execution,
        ExecutionPage,
        FileInfo,
        FilePage,
        LogPage,
        Sample,
        Scenario,
        ScenarioState,
        Token,
        Training,
        TrainingPage,
        Workflow,
        WorkflowPage,
        Workspace,
        WorkspaceList,
    )

T = TypeVar("T")


class AsyncClient(AsyncCampaignMethods):
    """``Client`` for asyncio: the same address and token rules; parts upload concurrently (bounded)."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        progress: bool = False,
    ) -> None:
        settings = resolve_settings(url, token)
        self.url = settings.url
        self.progress = progress
        self._timeout = timeout
        headers = {"User-Agent": "stratus-client"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        self._api = httpx.AsyncClient(base_url=self.url + API_PREFIX, headers=headers, timeout=timeout)
        # Presigned URLs carry their own signature: our bearer token must never go to S3.
        self._storage = httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._api.aclose()
        await self._storage.aclose()

    async def call(self, call: Call[T]) -> T:
        """Send one request; its answer read, or a typed StratusError."""
        try:
            response = await self._api.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                content=call.content,
                headers=dict(call.headers),
                timeout=self._timeout + call.extra_timeout_s,
            )
        except httpx.TransportError as exc:
            raise ConnectionFailedError(f"cannot reach the API at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        return call.read(response)

    def _show(self, progress: bool | None) -> bool:
        return self.progress if progress is None else progress

    # Files
    async def upload(
        self,
        path: str | Path,
        *,
        part_size: int | None = None,
        wait: bool = True,
        timeout: float = 600.0,
        progress: bool | None = None,
    ) -> FileInfo:
        """As ``Client.upload``; at most PART_CONCURRENCY parts are in flight at once."""
        path = Path(path)
        size = path.stat().st_size
        name = upload_name(path)
        with ProgressBar(f"upload {path.name}", size, enabled=self._show(progress), transfer=True) as bar:
            if is_direct_upload(size, part_size):
                content = await asyncio.to_thread(path.read_bytes)
                file_id = await self.call(endpoints.upload_direct(content, name))
                bar.advance(size)
                return await self.file_status(file_id)
            upload = await self.call(endpoints.start_upload(size, part_size, name))
            if upload.upload_url:
                await self._put(upload.upload_url, path, 0, size, bar)
            else:
                slots = asyncio.Semaphore(PART_CONCURRENCY)

                async def put_part(url: str, offset: int, length: int) -> str:
                    async with slots:
                        return await self._put(url, path, offset, length, bar)

                parts = plan_parts(upload, size)
                etags = await asyncio.gather(*(put_part(p.url, p.offset, p.size) for p in parts))
                numbered = {part.number: etag for part, etag in zip(parts, etags, strict=True)}
                await self.call(endpoints.complete_upload(upload.file_id, numbered))
        if wait:
            return await self.wait_for_file(upload.file_id, timeout)
        return await self.file_status(upload.file_id)

    async def _put(self, url: str, path: Path, offset: int, size: int, bar: ProgressBar) -> str:
        for delay in [*retry_delays(), None]:
            sent = 0

            def count(amount: int) -> None:
                nonlocal sent
                sent += amount
                bar.advance(amount)

            response, error = None, None
            try:
                response = await self._storage.put(
                    url, content=aread_range(path, offset, size, count), headers={"Content-Length": str(size)}
                )
            except httpx.TransportError as exc:
                error = exc
            failure = part_answer(response, error)
            if failure is None and response is not None:
                return str(response.headers.get("etag", ""))
            bar.advance(-sent)
            if delay is None:
                raise give_up(str(failure))
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # the last delay is None

    async def wait_for_file(self, file_id: str, timeout: float = 600.0) -> FileInfo:
        """Poll until ingestion has decided: the READY file, or FileRejectedError."""
        backoff = Backoff(f"ingestion of file {file_id}", timeout)
        while True:
            info = await self.file_status(file_id)
            if info.status == "READY":
                return info
            if info.status == "REJECTED":
                raise FileRejectedError(file_id, info.reason)
            await asyncio.sleep(backoff.next_delay())

    async def download(self, file_id: str, dest: str | Path = ".", *, progress: bool | None = None) -> Path:
        """As ``Client.download``."""
        async with self._api.stream("GET", f"/files/{file_id}") as first:
            if first.status_code >= 400:
                await first.aread()
                raise error_from_response(first)
            if first.is_redirect:
                async with self._storage.stream("GET", first.headers["location"]) as response:
                    return await self._save(response, file_id, Path(dest), self._show(progress))
            return await self._save(first, file_id, Path(dest), self._show(progress))

    @staticmethod
    async def _save(response: httpx.Response, file_id: str, dest: Path, show: bool) -> Path:
        if response.status_code >= 400:
            await response.aread()
            raise error_from_response(response)
        if dest.is_dir():
            dest = dest / filename_of(response.headers.get("content-disposition"), f"{file_id}.h5")
        total = int(response.headers.get("content-length", 0)) or None
        partial = dest.with_name(dest.name + ".part")
        bar = ProgressBar(f"download {dest.name}", total, enabled=show, transfer=True)
        with bar, partial.open("wb") as handle:
            async for chunk in response.aiter_bytes():
                await asyncio.to_thread(handle.write, chunk)
                bar.advance(len(chunk))
        return partial.replace(dest)

    async def file_status(self, file_id: str) -> FileInfo:
        return await self.call(endpoints.file_status(file_id))

    async def list_files(
        self, limit: int = 50, cursor: str | None = None, status: str | None = None
    ) -> FilePage:
        return await self.call(endpoints.list_files(limit, cursor, status))

    async def delete_file(self, file_id: str) -> None:
        await self.call(endpoints.delete_file(file_id))

    async def _input_ids(self, items: Sequence[str | Path], progress: bool | None) -> list[str]:
        ids = []
        for item in items:
            path = input_path(item)
            ids.append(str(item) if path is None else (await self.upload(path, progress=progress)).file_id)
        return ids

    # Algorithms
    async def list_algorithms(self) -> list[Algorithm]:
        return await self.call(endpoints.list_algorithms())

    async def get_algorithm(self, algorithm: str | Algorithm) -> Algorithm:
        """As ``Client.get_algorithm``: by id, `name` or `name:major`."""
        if not isinstance(algorithm, str):
            return algorithm
        ref = parse_algorithm_ref(algorithm)
        if ref.algorithm_id:
            return await self.call(endpoints.get_algorithm_by_id(ref.algorithm_id))
        assert ref.name is not None
        if ref.major is not None:
            return await self.call(endpoints.get_algorithm(ref.name, ref.major))
        return pick_algorithm(await self.list_algorithms(), ref.name)

    async def deploy_algorithm(self, source: str | Path) -> AlgorithmDeployed:
        package = await asyncio.to_thread(zip_package, Path(source))
        return await self.call(endpoints.deploy_algorithm(package))

    async def export_algorithm(
        self, algorithm: str, dest: str | Path, minor: int | None = None, checkpoint_id: str | None = None
    ) -> Path:
        """As ``Client.export_algorithm``."""
        found = await self.get_algorithm(algorithm)
        data = await self.call(
            endpoints.export_algorithm(found.algorithm_name, found.major, minor, checkpoint_id)
        )
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / f"{found.algorithm_name}-{found.major}.zip"
        await asyncio.to_thread(dest.write_bytes, data)
        return dest

    async def delete_algorithm(self, algorithm: str, minor: int | None = None) -> None:
        await self.call(endpoints.delete_algorithm((await self.get_algorithm(algorithm)).algorithm_id, minor))

    # Jobs
    async def run(
        self,
        algorithm: str | Algorithm,
        files: Sequence[str | Path],
        parameters: Mapping[str, Any] | None = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
        logs: bool | LogSink = False,
        **options: Any,
    ) -> Execution:
        """As ``Client.run``."""
        found = await self.get_algorithm(algorithm)
        values = dict(parameters or {})
        check_parameters(found.parameter_schema, values)
        body = {
            "algorithm_id": found.algorithm_id,
            "input_dataset_ids": await self._input_ids(files, progress),
            "additional_parameters": values,
            **{k: v for k, v in options.items() if v is not None},
        }
        started = await self._start(endpoints.execute, body)
        execution_id = started if isinstance(started, str) else started.execution_id
        if not wait:
            return await self.get_execution(execution_id)
        result: Execution = await self._wait(JobWatch("execution", execution_id, timeout), progress, logs)
        return result

    async def train(
        self,
        algorithm: str | Algorithm,
        samples: Sequence[str],
        parameters: Mapping[str, Any] | None = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
        progress: bool | None = None,
        logs: bool | LogSink = False,
        **options: Any,
    ) -> Training:
        """As ``Client.train``."""
        found = await self.get_algorithm(algorithm)
        body = {
            "algorithm_id": found.algorithm_id,
            "training_data": list(samples),
            "additional_parameters": dict(parameters or {}),
            **{k: v for k, v in options.items() if v is not None},
        }
        started = await self._start(endpoints.train, body)
        training_id = started if isinstance(started, str) else started.training_id
        if not wait:
            return await self.get_training(training_id)
        result: Training = await self._wait(JobWatch("training", training_id, timeout), progress, logs)
        return result

    async def _start(self, build: Callable[..., Call[Any]], body: dict[str, Any]) -> Any:
        key = str(uuid.uuid4())  # the same key on a retry: never two jobs for one call
        for attempt in range(START_ATTEMPTS):
            try:
                return await self.call(build(body, key))
            except ConflictError as error:
                if error.code != "conflict" or attempt == START_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    async def _wait(self, watch: JobWatch, progress: bool | None, logs: bool | LogSink) -> Any:
        show = self._show(progress)
        label = f"{watch.kind} {watch.job_id[:8]}"
        with ProgressBar(label, 1.0, enabled=show, transfer=False) as bar:
            follow = log_sink(logs, bar, show)
            while True:
                record = await self.call(watch.record_call())
                bar.update(record.progress, f"{label} {record.status}")
                logs_call = watch.logs_call()
                if follow is not None and logs_call is not None:
                    for text in watch.take(await self.call(logs_call)):
                        follow(text)
                if record.is_final:
                    return outcome(watch.kind, watch.job_id, record)
                await asyncio.sleep(watch.next_delay())

    async def wait_execution(self, execution_id: str, *, timeout: float | None = None) -> Execution:
        result: Execution = await self._wait(JobWatch("execution", execution_id, timeout), None, False)
        return result

    async def wait_training(self, training_id: str, *, timeout: float | None = None) -> Training:
        result: Training = await self._wait(JobWatch("training", training_id, timeout), None, False)
        return result

    async def get_execution(self, execution_id: str) -> Execution:
        return await self.call(endpoints.get_execution(execution_id))

    async def list_executions(
        self, limit: int = 50, cursor: str | None = None, status: str | None = None
    ) -> ExecutionPage:
        return await self.call(endpoints.list_executions(limit, cursor, status))

    async def stop_execution(self, execution_id: str) -> None:
        await self.call(endpoints.stop_execution(execution_id))

    async def execution_logs(self, execution_id: str, from_line: int = 0, limit: int = 1000) -> LogPage:
        return await self.call(endpoints.execution_logs(execution_id, from_line, limit))

    async def get_training(self, training_id: str) -> Training:
        return await self.call(endpoints.get_training(training_id))

    async def list_trainings(
        self, limit: int = 50, cursor: str | None = None, status: str | None = None
    ) -> TrainingPage:
        return await self.call(endpoints.list_trainings(limit, cursor, status))

    async def stop_training(self, training_id: str) -> None:
        await self.call(endpoints.stop_training(training_id))

    async def training_logs(self, training_id: str, from_line: int = 0, limit: int = 1000) -> LogPage:
        return await self.call(endpoints.training_logs(training_id, from_line, limit))

    async def get_checkpoint(self, checkpoint_id: str) -> Checkpoint:
        return await self.call(endpoints.get_checkpoint(checkpoint_id))

    async def list_checkpoints(self, tags: Sequence[str] = (), limit: int = 100) -> list[Checkpoint]:
        return await self.call(endpoints.list_checkpoints(tags, limit))

    async def delete_checkpoint(self, checkpoint_id: str) -> None:
        await self.call(endpoints.delete_checkpoint(checkpoint_id))

    async def create_sample(
        self, files: Sequence[Mapping[str, Sequence[str | Path]]], tags: Sequence[str] = ()
    ) -> Sample:
        """As ``Client.create_sample``: entries mapping roles to files (ids or local paths, uploaded)."""
        entries = [
            {role: await self._input_ids(items, None) for role, items in entry.items()} for entry in files
        ]
        return await self.get_sample(await self.call(endpoints.create_sample(entries, tags)))

    async def get_sample(self, sample_id: str) -> Sample:
        return await self.call(endpoints.get_sample(sample_id))

    async def list_samples(self, tags: Sequence[str] = (), limit: int = 100) -> list[Sample]:
        return await self.call(endpoints.list_samples(tags, limit))

    async def delete_sample(self, sample_id: str) -> None:
        await self.call(endpoints.delete_sample(sample_id))

    # Workflows and tokens
    async def submit_workflow(
        self,
        definition: Mapping[str, Any] | Sequence[Any] | BaseModel,
        *,
        name: str | None = None,
        start: bool = True,
        base_dir: str | Path | None = None,
    ) -> Workflow:
        """As ``Client.submit_workflow``."""
        body = workflow_body(definition, name)
        needs = workflow_needs(body, Path(base_dir) if base_dir else None)
        algorithm_ids = {ref: (await self.get_algorithm(ref)).algorithm_id for ref in needs.algorithms}
        file_ids = {item: (await self.upload(path)).file_id for item, path in needs.paths.items()}
        body = apply_workflow_needs(body, algorithm_ids, file_ids)
        return await self.call(endpoints.create_workflow(body, start))

    async def wait_workflow(self, workflow_id: str, *, timeout: float | None = None) -> Workflow:
        result: Workflow = await self._wait(JobWatch("workflow", workflow_id, timeout), None, False)
        return result

    async def get_workflow(self, workflow_id: str) -> Workflow:
        return await self.call(endpoints.get_workflow(workflow_id))

    async def list_workflows(self, limit: int = 50, cursor: str | None = None) -> WorkflowPage:
        return await self.call(endpoints.list_workflows(limit, cursor))

    async def workflow_action(self, workflow_id: str, action: str) -> Workflow:
        """start, pause, resume or cancel a workflow."""
        return await self.call(endpoints.workflow_action(workflow_id, action))

    async def pause_workflow(self, workflow_id: str) -> Workflow:
        return await self.workflow_action(workflow_id, "pause")

    async def resume_workflow(self, workflow_id: str) -> Workflow:
        return await self.workflow_action(workflow_id, "resume")

    async def cancel_workflow(self, workflow_id: str) -> Workflow:
        return await self.workflow_action(workflow_id, "cancel")

    async def retry_workflow_step(self, workflow_id: str, step_id: str) -> Workflow:
        return await self.call(endpoints.retry_workflow_step(workflow_id, step_id))

    async def delete_workflow(self, workflow_id: str) -> None:
        await self.call(endpoints.delete_workflow(workflow_id))

    # Workspaces and scenarios: as ``Client``'s
    async def list_workspaces(self) -> WorkspaceList:
        return await self.call(endpoints.list_workspaces())

    async def create_workspace(self, display_name: str) -> Workspace:
        return await self.call(endpoints.create_workspace(display_name))

    async def rename_workspace(self, workspace_id: str, display_name: str) -> Workspace:
        return await self.call(endpoints.rename_workspace(workspace_id, display_name))

    async def copy_workspace(self, workspace_id: str, display_name: str) -> Workspace:
        return await self.call(endpoints.copy_workspace(workspace_id, display_name))

    async def delete_workspace(self, workspace_id: str) -> WorkspaceList:
        return await self.call(endpoints.delete_workspace(workspace_id))

    async def list_scenarios(self, workspace_id: str) -> list[Scenario]:
        return (await self.call(endpoints.list_scenarios(workspace_id))).scenarios

    async def create_scenario(
        self,
        workspace_id: str,
        tag: str,
        algorithm: str | Algorithm,
        datasets: Sequence[str | Path],
        parameters: Mapping[str, Any] | None = None,
    ) -> Scenario:
        algorithm_id = (await self.get_algorithm(algorithm)).algorithm_id
        dataset_ids = await self._input_ids(datasets, None)
        call = endpoints.create_scenario(workspace_id, tag, algorithm_id, dataset_ids, parameters)
        return await self.call(call)

    async def get_scenario(self, workspace_id: str, scenario_id: str) -> Scenario:
        return await self.call(endpoints.get_scenario(workspace_id, scenario_id))

    async def scenario_status(self, workspace_id: str, scenario_id: str) -> ScenarioState:
        return await self.call(endpoints.scenario_status(workspace_id, scenario_id))

    async def run_scenario(
        self, workspace_id: str, scenario_id: str, *, wait: bool = False, timeout: float | None = None
    ) -> Scenario:
        scenario = await self.call(endpoints.scenario_action(workspace_id, scenario_id, "run"))
        if not wait or scenario.execution_id is None:
            return scenario
        await self.wait_execution(scenario.execution_id, timeout=timeout)
        return await self.get_scenario(workspace_id, scenario_id)

    async def reset_scenario(self, workspace_id: str, scenario_id: str) -> Scenario:
        return await self.call(endpoints.scenario_action(workspace_id, scenario_id, "reset"))

    async def delete_scenario(self, workspace_id: str, scenario_id: str) -> None:
        await self.call(endpoints.delete_scenario(workspace_id, scenario_id))

    async def create_token(self, name: str, expires_in_days: int | None = None) -> Token:
        return await self.call(endpoints.create_token(name, expires_in_days))

    async def list_tokens(self) -> list[Token]:
        return await self.call(endpoints.list_tokens())

    async def revoke_token(self, token_id: str) -> None:
        await self.call(endpoints.revoke_token(token_id))
