"""The synchronous client: every route as a method, plus upload, download, run and wait."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from stratus_client import endpoints
from stratus_client.campaigns import CampaignMethods
from stratus_client.config import resolve_settings
from stratus_client.endpoints import MAX_PREFER_WAIT_S
from stratus_client.errors import (
    ConflictError,
    ConnectionFailedError,
    error_from_response,
)
from stratus_client.file_transfers import FileTransfers
from stratus_client.jobs import JobWatch, outcome
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
    ProgressBar,
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
API_PREFIX = "/api/v0"
DEFAULT_TIMEOUT_S = 60.0
# A 409 `conflict` on a job start means it raced another change: the API asks for a retry.
START_ATTEMPTS = 3
LogSink = Callable[[str], None]


def print_log_line(text: str) -> None:
    """The default log follower: each line on stderr, as it comes."""
    print(text, file=sys.stderr, flush=True)


def log_sink(logs: bool | LogSink, bar: ProgressBar, show: bool) -> LogSink | None:
    """Where followed log lines go: the caller's callable, above the progress bar, or stderr."""
    if logs is False:
        return None
    if logs is True:
        return bar.print if show else print_log_line
    return logs


def _conflict_retryable(error: ConflictError) -> bool:
    return error.code == "conflict"


class Client(FileTransfers, CampaignMethods):
    """A client of one Stratus API. Address and token come from the arguments, else STRATUS_URL and
    STRATUS_TOKEN, else the file `stratus login` writes. ``progress`` shows rich progress bars (off by
    default for library use; each method can override it)."""

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
        headers = {"User-Agent": "stratus-client"}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        self._api = httpx.Client(base_url=self.url + API_PREFIX, headers=headers, timeout=timeout)
        # Presigned URLs carry their own signature: our bearer token must never go to S3.
        self._storage = httpx.Client(timeout=timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._api.close()
        self._storage.close()

    def call(self, call: Call[T]) -> T:
        """Send one request; its answer read, or a typed StratusError."""
        timeout = self._api.timeout.read or DEFAULT_TIMEOUT_S
        try:
            response = self._api.request(
                call.method,
                call.path,
                params=call.params,
                json=call.json,
                content=call.content,
                headers=dict(call.headers),
                timeout=timeout + call.extra_timeout_s,
            )
        except httpx.TransportError as exc:
            raise ConnectionFailedError(f"cannot reach the API at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise error_from_response(response)
        return call.read(response)

    # Files (upload, download, wait_for_file, file_status: FileTransfers)
    def list_files(self, limit: int = 50, cursor: str | None = None, status: str | None = None) -> FilePage:
        return self.call(endpoints.list_files(limit, cursor, status))

    def delete_file(self, file_id: str) -> None:
        self.call(endpoints.delete_file(file_id))

    def _input_ids(
        self, items: Sequence[str | Path], progress: bool | None, base: Path | None = None
    ) -> list[str]:
        """File ids for inputs given as ids or local paths (those are uploaded)."""
        ids = []
        for item in items:
            path = input_path(item, base)
            ids.append(str(item) if path is None else self.upload(path, progress=progress).file_id)
        return ids

    # Algorithms
    def list_algorithms(self) -> list[Algorithm]:
        return self.call(endpoints.list_algorithms())

    def get_algorithm(self, algorithm: str | Algorithm) -> Algorithm:
        """An algorithm by id, `name` (yours before the built-in, then the highest major) or `name:major`."""
        if not isinstance(algorithm, str):
            return algorithm
        ref = parse_algorithm_ref(algorithm)
        if ref.algorithm_id:
            return self.call(endpoints.get_algorithm_by_id(ref.algorithm_id))
        assert ref.name is not None
        if ref.major is not None:
            return self.call(endpoints.get_algorithm(ref.name, ref.major))
        return pick_algorithm(self.list_algorithms(), ref.name)

    def deploy_algorithm(self, source: str | Path) -> AlgorithmDeployed:
        """Deploy a Compox package folder (zipped here) or a .zip file as your own algorithm."""
        return self.call(endpoints.deploy_algorithm(zip_package(Path(source))))

    def export_algorithm(
        self, algorithm: str, dest: str | Path, minor: int | None = None, checkpoint_id: str | None = None
    ) -> Path:
        """Save an algorithm's package zip (with a checkpoint's trained assets, if given) to ``dest``."""
        found = self.get_algorithm(algorithm)
        data = self.call(endpoints.export_algorithm(found.algorithm_name, found.major, minor, checkpoint_id))
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / f"{found.algorithm_name}-{found.major}.zip"
        dest.write_bytes(data)
        return dest

    def delete_algorithm(self, algorithm: str, minor: int | None = None) -> None:
        self.call(endpoints.delete_algorithm(self.get_algorithm(algorithm).algorithm_id, minor))

    # Executions
    def run(
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
        """Run an algorithm (id, `name` or `name:major`) on files (ids or local paths, uploaded first).

        The parameters are checked against the algorithm's schema before anything is sent
        (InvalidInputError naming the parameter). With ``wait``, follow the job (a progress bar fed by
        its progress; ``logs``: print its log lines as they come, or hand them to a callable) and return
        the COMPLETED record; JobFailedError carries the error of a FAILED one. ``options`` go into the
        body as they are: checkpoint_id, execution_device_override, algorithm_minor_version,
        session_token, priority, webhook_url …"""
        found = self.get_algorithm(algorithm)
        values = dict(parameters or {})
        check_parameters(found.parameter_schema, values)
        body = {
            "algorithm_id": found.algorithm_id,
            "input_dataset_ids": self._input_ids(files, progress),
            "additional_parameters": values,
            **{k: v for k, v in options.items() if v is not None},
        }
        started = self._start(endpoints.execute, body, self._prefer_wait(wait, progress, logs))
        if not isinstance(started, str):  # `Prefer: wait` saw it end
            return outcome("execution", started.execution_id, started)  # type: ignore[no-any-return]
        if not wait:
            return self.get_execution(started)
        return self.wait_execution(started, timeout=timeout, progress=progress, logs=logs)

    def _prefer_wait(self, wait: bool, progress: bool | None, logs: bool | LogSink) -> int:
        """Seconds the API may hold the start request until the job ends: only when nobody watches the
        job's progress or log, which a held request would hide."""
        return MAX_PREFER_WAIT_S if wait and not self._show(progress) and logs is False else 0

    def _start(self, build: Callable[..., Call[Any]], body: dict[str, Any], prefer_wait: int = 0) -> Any:
        key = str(uuid.uuid4())  # the same key on a retry: never two jobs for one call
        for attempt in range(START_ATTEMPTS):
            try:
                return self.call(build(body, key, prefer_wait))
            except ConflictError as error:
                if not _conflict_retryable(error) or attempt == START_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def wait_execution(
        self, execution_id: str, *, timeout: float | None = None, progress: bool | None = None,
        logs: bool | LogSink = False,
    ) -> Execution:  # fmt: skip
        """Follow an execution until it ends: the COMPLETED record, or JobFailedError/JobStoppedError."""
        result: Execution = self._wait(JobWatch("execution", execution_id, timeout), progress, logs)
        return result

    def _wait(self, watch: JobWatch, progress: bool | None, logs: bool | LogSink) -> Any:
        show = self._show(progress)
        label = f"{watch.kind} {watch.job_id[:8]}"
        with ProgressBar(label, 1.0, enabled=show, transfer=False) as bar:
            follow = log_sink(logs, bar, show)
            while True:
                record = self.call(watch.record_call())
                bar.update(record.progress, f"{label} {record.status}")
                logs_call = watch.logs_call()
                if follow is not None and logs_call is not None:
                    for text in watch.take(self.call(logs_call)):
                        follow(text)
                if record.is_final:
                    return outcome(watch.kind, watch.job_id, record)
                time.sleep(watch.next_delay())

    def get_execution(self, execution_id: str) -> Execution:
        return self.call(endpoints.get_execution(execution_id))

    def list_executions(
        self, limit: int = 50, cursor: str | None = None, status: str | None = None
    ) -> ExecutionPage:
        return self.call(endpoints.list_executions(limit, cursor, status))

    def stop_execution(self, execution_id: str) -> None:
        self.call(endpoints.stop_execution(execution_id))

    def execution_logs(self, execution_id: str, from_line: int = 0, limit: int = 1000) -> LogPage:
        return self.call(endpoints.execution_logs(execution_id, from_line, limit))

    # Trainings, checkpoints, samples
    def train(
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
        """Train an algorithm on samples (ids); ``options`` go into the body (validation_data, rounds,
        round_size, selection, tags, checkpoint_id …). With ``wait``, as ``run``."""
        found = self.get_algorithm(algorithm)
        body = {
            "algorithm_id": found.algorithm_id,
            "training_data": list(samples),
            "additional_parameters": dict(parameters or {}),
            **{k: v for k, v in options.items() if v is not None},
        }
        started = self._start(endpoints.train, body, self._prefer_wait(wait, progress, logs))
        if not isinstance(started, str):
            return outcome("training", started.training_id, started)  # type: ignore[no-any-return]
        if not wait:
            return self.get_training(started)
        return self.wait_training(started, timeout=timeout, progress=progress, logs=logs)

    def wait_training(
        self, training_id: str, *, timeout: float | None = None, progress: bool | None = None,
        logs: bool | LogSink = False,
    ) -> Training:  # fmt: skip
        result: Training = self._wait(JobWatch("training", training_id, timeout), progress, logs)
        return result

    def get_training(self, training_id: str) -> Training:
        return self.call(endpoints.get_training(training_id))

    def list_trainings(
        self, limit: int = 50, cursor: str | None = None, status: str | None = None
    ) -> TrainingPage:
        return self.call(endpoints.list_trainings(limit, cursor, status))

    def stop_training(self, training_id: str) -> None:
        self.call(endpoints.stop_training(training_id))

    def training_logs(self, training_id: str, from_line: int = 0, limit: int = 1000) -> LogPage:
        return self.call(endpoints.training_logs(training_id, from_line, limit))

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint:
        return self.call(endpoints.get_checkpoint(checkpoint_id))

    def list_checkpoints(self, tags: Sequence[str] = (), limit: int = 100) -> list[Checkpoint]:
        return self.call(endpoints.list_checkpoints(tags, limit))

    def delete_checkpoint(self, checkpoint_id: str) -> None:
        self.call(endpoints.delete_checkpoint(checkpoint_id))

    def create_sample(
        self, files: Sequence[Mapping[str, Sequence[str | Path]]], tags: Sequence[str] = ()
    ) -> Sample:
        """A sample from entries mapping roles to files (ids or local paths, uploaded first)."""
        entries = [{role: self._input_ids(items, None) for role, items in entry.items()} for entry in files]
        return self.get_sample(self.call(endpoints.create_sample(entries, tags)))

    def get_sample(self, sample_id: str) -> Sample:
        return self.call(endpoints.get_sample(sample_id))

    def list_samples(self, tags: Sequence[str] = (), limit: int = 100) -> list[Sample]:
        return self.call(endpoints.list_samples(tags, limit))

    def delete_sample(self, sample_id: str) -> None:
        self.call(endpoints.delete_sample(sample_id))

    # Workflows
    def submit_workflow(
        self,
        definition: Mapping[str, Any] | Sequence[Any] | BaseModel,
        *,
        name: str | None = None,
        start: bool = True,
        base_dir: str | Path | None = None,
    ) -> Workflow:
        """Create (and start) a workflow from a dict, a list of steps or a WorkflowSpec. Steps may name
        their algorithm (`algorithm: threshold`) and list local files as inputs (relative to
        ``base_dir``): they are resolved and uploaded first."""
        body = workflow_body(definition, name)
        needs = workflow_needs(body, Path(base_dir) if base_dir else None)
        algorithm_ids = {ref: self.get_algorithm(ref).algorithm_id for ref in needs.algorithms}
        file_ids = {item: self.upload(path).file_id for item, path in needs.paths.items()}
        return self.call(
            endpoints.create_workflow(apply_workflow_needs(body, algorithm_ids, file_ids), start)
        )

    def wait_workflow(
        self, workflow_id: str, *, timeout: float | None = None, progress: bool | None = None
    ) -> Workflow:
        """Follow a workflow until it ends: COMPLETED, or JobFailedError (FAILED, CANCELLED)."""
        result: Workflow = self._wait(JobWatch("workflow", workflow_id, timeout), progress, False)
        return result

    def get_workflow(self, workflow_id: str) -> Workflow:
        return self.call(endpoints.get_workflow(workflow_id))

    def list_workflows(
        self, limit: int = 50, cursor: str | None = None, status: str | None = None
    ) -> WorkflowPage:
        return self.call(endpoints.list_workflows(limit, cursor, status))

    def workflow_action(self, workflow_id: str, action: str) -> Workflow:
        """start, pause, resume or cancel a workflow."""
        return self.call(endpoints.workflow_action(workflow_id, action))

    def pause_workflow(self, workflow_id: str) -> Workflow:
        return self.workflow_action(workflow_id, "pause")

    def resume_workflow(self, workflow_id: str) -> Workflow:
        return self.workflow_action(workflow_id, "resume")

    def cancel_workflow(self, workflow_id: str) -> Workflow:
        return self.workflow_action(workflow_id, "cancel")

    def retry_workflow_step(self, workflow_id: str, step_id: str) -> Workflow:
        return self.call(endpoints.retry_workflow_step(workflow_id, step_id))

    def delete_workflow(self, workflow_id: str) -> None:
        self.call(endpoints.delete_workflow(workflow_id))

    # Workspaces and scenarios
    def list_workspaces(self) -> WorkspaceList:
        """Every workspace, oldest first, and the default one (`main` is made on first use)."""
        return self.call(endpoints.list_workspaces())

    def create_workspace(self, display_name: str) -> Workspace:
        return self.call(endpoints.create_workspace(display_name))

    def rename_workspace(self, workspace_id: str, display_name: str) -> Workspace:
        return self.call(endpoints.rename_workspace(workspace_id, display_name))

    def copy_workspace(self, workspace_id: str, display_name: str) -> Workspace:
        """A new workspace with a CREATED copy of each scenario; the data is shared, not copied."""
        return self.call(endpoints.copy_workspace(workspace_id, display_name))

    def delete_workspace(self, workspace_id: str) -> WorkspaceList:
        """Delete it and its scenarios; answers the workspaces left (a fresh `main` after the last)."""
        return self.call(endpoints.delete_workspace(workspace_id))

    def list_scenarios(self, workspace_id: str) -> list[Scenario]:
        return self.call(endpoints.list_scenarios(workspace_id)).scenarios

    def create_scenario(
        self,
        workspace_id: str,
        tag: str,
        algorithm: str | Algorithm,
        datasets: Sequence[str | Path],
        parameters: Mapping[str, Any] | None = None,
    ) -> Scenario:
        """Save a scenario: ``algorithm`` by id, `name` or `name:major`; ``datasets`` file or sample ids,
        or local paths (uploaded first)."""
        algorithm_id = self.get_algorithm(algorithm).algorithm_id
        dataset_ids = self._input_ids(datasets, None)
        return self.call(endpoints.create_scenario(workspace_id, tag, algorithm_id, dataset_ids, parameters))

    def get_scenario(self, workspace_id: str, scenario_id: str) -> Scenario:
        return self.call(endpoints.get_scenario(workspace_id, scenario_id))

    def scenario_status(self, workspace_id: str, scenario_id: str) -> ScenarioState:
        return self.call(endpoints.scenario_status(workspace_id, scenario_id))

    def run_scenario(
        self, workspace_id: str, scenario_id: str, *, wait: bool = False, timeout: float | None = None,
        progress: bool | None = None,
    ) -> Scenario:  # fmt: skip
        """Run a CREATED scenario as an execution; with ``wait``, follow it to its end (JobFailedError
        when it fails) and answer the scenario with its result."""
        scenario = self.call(endpoints.scenario_action(workspace_id, scenario_id, "run"))
        if not wait or scenario.execution_id is None:
            return scenario
        self.wait_execution(scenario.execution_id, timeout=timeout, progress=progress)
        return self.get_scenario(workspace_id, scenario_id)

    def reset_scenario(self, workspace_id: str, scenario_id: str) -> Scenario:
        """Back to CREATED with the result cleared, once its execution ended."""
        return self.call(endpoints.scenario_action(workspace_id, scenario_id, "reset"))

    def delete_scenario(self, workspace_id: str, scenario_id: str) -> None:
        self.call(endpoints.delete_scenario(workspace_id, scenario_id))

    # Tokens
    def create_token(self, name: str, expires_in_days: int | None = None) -> Token:
        """A new API token; its secret (`token`) is shown only in this answer."""
        return self.call(endpoints.create_token(name, expires_in_days))

    def list_tokens(self) -> list[Token]:
        return self.call(endpoints.list_tokens())

    def revoke_token(self, token_id: str) -> None:
        self.call(endpoints.revoke_token(token_id))
