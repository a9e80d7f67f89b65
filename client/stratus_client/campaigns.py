"""Campaigns for both clients: a request as a user writes it (the algorithm by name, inputs as local
files) turned into the API's body, following a campaign to its end, and the campaign methods."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from stratus_client import endpoints
from stratus_client.errors import InvalidInputError, JobFailedError
from stratus_client.jobs import Backoff
from stratus_client.references import WorkflowNeeds, apply_workflow_needs, input_path, workflow_needs
from stratus_client.transfers import ProgressBar

if TYPE_CHECKING:
    from stratus_client.endpoints import Call
    from stratus_client.models import (
        Algorithm,
        Campaign,
        CampaignCreated,
        CampaignPage,
        FileInfo,
        Trial,
    )

T = TypeVar("T")
# How the API's body names an algorithm; `algorithm` (a name, `name:major` or id) stands in for them.
ALGORITHM_FIELDS = ("algorithm_id", "algorithm_name", "algorithm_major_version")


@dataclass
class CampaignNeeds:
    """What a campaign request names that must be looked up or uploaded before it is sent."""

    algorithm: str | Algorithm | None = None
    paths: dict[str, Path] = field(default_factory=dict)
    workflow: WorkflowNeeds | None = None  # a workflow campaign's template's


def campaign_body(
    body: Mapping[str, Any] | None,
    algorithm: str | Algorithm | None,
    inputs: Sequence[str | Path] | None,
    fields: Mapping[str, Any],
) -> dict[str, Any]:
    """``body`` (copied: the caller's object never changes) with the keyword fields over it; ``inputs``
    become `input_dataset_ids`. Raises InvalidInputError when the inputs are given twice."""
    merged = copy.deepcopy(dict(body or {}))
    merged.update({name: value for name, value in fields.items() if value is not None})
    if algorithm is not None:
        merged["algorithm"] = algorithm
    if inputs is not None:
        if "input_dataset_ids" in merged:
            raise InvalidInputError("give inputs or input_dataset_ids, not both", parameter="inputs")
        merged["input_dataset_ids"] = list(inputs)
    return merged


def campaign_needs(body: Mapping[str, Any], base: Path | None) -> CampaignNeeds:
    """The algorithm to resolve (`algorithm`) and the local files among `input_dataset_ids` (relative to
    ``base``). Raises InvalidInputError when the algorithm is named twice, or an input is neither a
    local file nor a file id."""
    reference = body.get("algorithm")
    named = [name for name in ALGORITHM_FIELDS if body.get(name) is not None]
    if reference is not None and named:
        raise InvalidInputError(f"name the algorithm once: `algorithm` or {named}", parameter="algorithm")
    needs = CampaignNeeds(algorithm=reference)
    if isinstance(body.get("workflow"), Mapping):
        needs.workflow = workflow_needs(body["workflow"], base)
    for item in body.get("input_dataset_ids") or []:
        # Anything else (a number, a dict) goes to the API as it is, which names what is wrong.
        path = input_path(item, base) if isinstance(item, str | Path) else None
        if path is not None:
            needs.paths[str(item)] = path
    return needs


def check_parameter_names(schema: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    """Refuse, before anything is uploaded or sent, a parameter the algorithm does not have in the search
    space, the table's rows or the fixed parameters (the API checks the rest). Raises InvalidInputError
    naming it."""
    properties: Mapping[str, Any] = schema.get("properties") or {}
    if schema.get("additionalProperties") is not False:
        return
    groups = [body.get("search_space"), body.get("parameters"), *(body.get("rows") or [])]
    for group in groups:
        for name in group if isinstance(group, Mapping) else ():
            if name not in properties:
                detail = f"unknown parameter {name!r}; known: {sorted(properties)}"
                raise InvalidInputError(detail, parameter=str(name))


def step_algorithms(template: Mapping[str, Any]) -> dict[str, str]:
    """Each step's algorithm as get_algorithm takes it, by step id: `algorithm`, `config.algorithm_id`,
    or `config.algorithm_name` + major. Empty unless every step is an execution naming one (a training
    step's parameters are its algorithm's training parameters, which the registry's listing lacks):
    then the API alone checks the names."""
    found: dict[str, str] = {}
    for step in template.get("steps") or []:
        if not isinstance(step, Mapping) or step.get("task_type", "execution") != "execution":
            return {}
        config: Mapping[str, Any] = step["config"] if isinstance(step.get("config"), Mapping) else {}
        reference = step.get("algorithm") or config.get("algorithm_id")
        if reference is None and config.get("algorithm_name") is not None:
            reference = f"{config['algorithm_name']}:{config.get('algorithm_major_version')}"
        if not isinstance(reference, str) or not isinstance(step.get("id"), str):
            return {}
        found[step["id"]] = reference
    return found


def check_workflow_parameter_names(
    steps: Mapping[str, str], algorithms: Mapping[str, Algorithm], body: Mapping[str, Any]
) -> None:
    """check_parameter_names for a workflow campaign: its parameters are `<step id>.<parameter>` of the
    step's algorithm (``steps``: step id → reference, ``algorithms``: reference → the algorithm)."""
    if not steps:
        return
    properties = {
        f"{step}.{name}": prop
        for step, reference in steps.items()
        for name, prop in (algorithms[reference].parameter_schema.get("properties") or {}).items()
    }
    check_parameter_names({"additionalProperties": False, "properties": properties}, body)


def apply_campaign_needs(
    body: dict[str, Any], algorithm_id: str | None, file_ids: Mapping[str, str]
) -> dict[str, Any]:
    """The body with `algorithm` replaced by the id it resolved to and local files by their file ids."""
    body.pop("algorithm", None)
    if algorithm_id is not None:
        body["algorithm_id"] = algorithm_id
    if isinstance(body.get("input_dataset_ids"), list):
        body["input_dataset_ids"] = [file_ids.get(str(item), item) for item in body["input_dataset_ids"]]
    return body


def campaign_outcome(campaign: Campaign) -> Campaign:
    """A COMPLETED campaign. Raises JobFailedError (FAILED, CANCELLED) carrying the campaign."""
    if campaign.status == "COMPLETED":
        return campaign
    reason = campaign.error_message or "no error recorded"
    raise JobFailedError(f"campaign {campaign.id} ended {campaign.status}: {reason}", campaign)


class TrialsBar(ProgressBar):
    """A progress bar over a campaign's trials: those that ended out of those planned."""

    def __init__(self, campaign: Campaign, *, enabled: bool) -> None:
        super().__init__(
            self._label(campaign), campaign.counts.planned or None, enabled=enabled, transfer=False
        )
        self.show(campaign)

    def show(self, campaign: Campaign) -> None:
        self.update(campaign.finished_trials, self._label(campaign))

    @staticmethod
    def _label(campaign: Campaign) -> str:
        counts = campaign.counts
        return f"campaign {campaign.id[:8]} {campaign.status} {campaign.finished_trials}/{counts.planned}"


class CampaignMethods:
    """The campaign methods of ``Client``, which provides ``call``, ``get_algorithm`` and ``upload``."""

    progress: bool

    if TYPE_CHECKING:

        def call(self, call: Call[T]) -> T: ...

        def get_algorithm(self, algorithm: str | Algorithm) -> Algorithm: ...

        def upload(self, path: str | Path, *, progress: bool | None = None) -> FileInfo: ...

        def _show(self, progress: bool | None) -> bool: ...

    def create_campaign(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        algorithm: str | Algorithm | None = None,
        inputs: Sequence[str | Path] | None = None,
        base_dir: str | Path | None = None,
        **fields: Any,
    ) -> CampaignCreated:
        """Start a campaign from the API's body, given as ``body`` and/or keyword fields (kind,
        search_space, objectives, budget, batch_size …). ``algorithm`` (or the body's `algorithm`) names
        it by id, `name` or `name:major`, and then the parameters named are checked against its schema
        first; ``inputs`` (or the body's `input_dataset_ids`) may list local files (relative to
        ``base_dir``), uploaded next."""
        request = campaign_body(body, algorithm, inputs, fields)
        needs = campaign_needs(request, Path(base_dir) if base_dir else None)
        algorithm_id = None
        if needs.algorithm is not None:
            found = self.get_algorithm(needs.algorithm)
            check_parameter_names(found.parameter_schema, request)
            algorithm_id = found.algorithm_id
        if needs.workflow is not None:  # its steps name algorithms and local files as a workflow's do
            steps = step_algorithms(request["workflow"])
            resolved = {ref: self.get_algorithm(ref) for ref in {*needs.workflow.algorithms, *steps.values()}}
            check_workflow_parameter_names(steps, resolved, request)
            uploaded = {item: self.upload(path).file_id for item, path in needs.workflow.paths.items()}
            names = {ref: resolved[ref].algorithm_id for ref in needs.workflow.algorithms}
            apply_workflow_needs(request["workflow"], names, uploaded)
        file_ids = {item: self.upload(path).file_id for item, path in needs.paths.items()}
        return self.call(endpoints.create_campaign(apply_campaign_needs(request, algorithm_id, file_ids)))

    def wait_campaign(
        self, campaign_id: str, *, timeout: float | None = None, progress: bool | None = None
    ) -> Campaign:
        """Follow a campaign (a bar over its trials) until it ends: COMPLETED, or JobFailedError (FAILED,
        CANCELLED). Raises WaitTimeoutError past ``timeout``."""
        backoff = Backoff(f"campaign {campaign_id}", timeout)
        campaign = self.get_campaign(campaign_id)
        bar = TrialsBar(campaign, enabled=self._show(progress))
        with bar:
            while not campaign.is_final:
                time.sleep(backoff.next_delay())
                campaign = self.get_campaign(campaign_id)
                bar.show(campaign)
        return campaign_outcome(campaign)

    def get_campaign(self, campaign_id: str) -> Campaign:
        """A campaign, its counts, every trial and the best so far (the Pareto front for several
        objectives)."""
        return self.call(endpoints.get_campaign(campaign_id))

    def list_campaigns(
        self, limit: int = 50, cursor: str | None = None, status: str | None = None
    ) -> CampaignPage:
        return self.call(endpoints.list_campaigns(limit, cursor, status))

    def campaign_trials(self, campaign_id: str) -> list[Trial]:
        return self.call(endpoints.campaign_trials(campaign_id))

    def campaign_action(self, campaign_id: str, action: str) -> Campaign:
        """pause, resume or cancel a campaign."""
        return self.call(endpoints.campaign_action(campaign_id, action))

    def pause_campaign(self, campaign_id: str) -> Campaign:
        return self.campaign_action(campaign_id, "pause")

    def resume_campaign(self, campaign_id: str) -> Campaign:
        return self.campaign_action(campaign_id, "resume")

    def cancel_campaign(self, campaign_id: str) -> Campaign:
        return self.campaign_action(campaign_id, "cancel")

    def delete_campaign(self, campaign_id: str) -> None:
        """Cancel it if it runs, then delete it, its trials and its plot."""
        self.call(endpoints.delete_campaign(campaign_id))

    def campaign_plot(self, campaign_id: str) -> bytes:
        """The latest plot (PNG). Raises NotFoundError (code `no_plot`) before any trial has a result."""
        return self.call(endpoints.campaign_plot(campaign_id))

    def campaign_history(self, campaign_id: str) -> str:
        """Every trial as CSV (a later campaign's `existing_data.csv` warm-starts from it)."""
        return self.call(endpoints.campaign_history(campaign_id))

    def campaign_optimizers(self) -> dict[str, Any]:
        """Each campaign kind and Bayesian optimizer with the JSON schema of its options."""
        return self.call(endpoints.campaign_optimizers())


class AsyncCampaignMethods:
    """``CampaignMethods`` as coroutines, for ``AsyncClient``."""

    progress: bool

    if TYPE_CHECKING:

        async def call(self, call: Call[T]) -> T: ...

        async def get_algorithm(self, algorithm: str | Algorithm) -> Algorithm: ...

        async def upload(self, path: str | Path, *, progress: bool | None = None) -> FileInfo: ...

        def _show(self, progress: bool | None) -> bool: ...

    async def create_campaign(
        self,
        body: Mapping[str, Any] | None = None,
        *,
        algorithm: str | Algorithm | None = None,
        inputs: Sequence[str | Path] | None = None,
        base_dir: str | Path | None = None,
        **fields: Any,
    ) -> CampaignCreated:
        """As ``Client.create_campaign``."""
        request = campaign_body(body, algorithm, inputs, fields)
        needs = campaign_needs(request, Path(base_dir) if base_dir else None)
        algorithm_id = None
        if needs.algorithm is not None:
            found = await self.get_algorithm(needs.algorithm)
            check_parameter_names(found.parameter_schema, request)
            algorithm_id = found.algorithm_id
        if needs.workflow is not None:
            steps = step_algorithms(request["workflow"])
            refs = {*needs.workflow.algorithms, *steps.values()}
            resolved = {ref: await self.get_algorithm(ref) for ref in refs}
            check_workflow_parameter_names(steps, resolved, request)
            paths = needs.workflow.paths.items()
            uploaded = {item: (await self.upload(path)).file_id for item, path in paths}
            names = {ref: resolved[ref].algorithm_id for ref in needs.workflow.algorithms}
            apply_workflow_needs(request["workflow"], names, uploaded)
        file_ids = {item: (await self.upload(path)).file_id for item, path in needs.paths.items()}
        return await self.call(
            endpoints.create_campaign(apply_campaign_needs(request, algorithm_id, file_ids))
        )

    async def wait_campaign(
        self, campaign_id: str, *, timeout: float | None = None, progress: bool | None = None
    ) -> Campaign:
        """As ``Client.wait_campaign``."""
        backoff = Backoff(f"campaign {campaign_id}", timeout)
        campaign = await self.get_campaign(campaign_id)
        bar = TrialsBar(campaign, enabled=self._show(progress))
        with bar:
            while not campaign.is_final:
                await asyncio.sleep(backoff.next_delay())
                campaign = await self.get_campaign(campaign_id)
                bar.show(campaign)
        return campaign_outcome(campaign)

    async def get_campaign(self, campaign_id: str) -> Campaign:
        return await self.call(endpoints.get_campaign(campaign_id))

    async def list_campaigns(
        self, limit: int = 50, cursor: str | None = None, status: str | None = None
    ) -> CampaignPage:
        return await self.call(endpoints.list_campaigns(limit, cursor, status))

    async def campaign_trials(self, campaign_id: str) -> list[Trial]:
        return await self.call(endpoints.campaign_trials(campaign_id))

    async def campaign_action(self, campaign_id: str, action: str) -> Campaign:
        """pause, resume or cancel a campaign."""
        return await self.call(endpoints.campaign_action(campaign_id, action))

    async def pause_campaign(self, campaign_id: str) -> Campaign:
        return await self.campaign_action(campaign_id, "pause")

    async def resume_campaign(self, campaign_id: str) -> Campaign:
        return await self.campaign_action(campaign_id, "resume")

    async def cancel_campaign(self, campaign_id: str) -> Campaign:
        return await self.campaign_action(campaign_id, "cancel")

    async def delete_campaign(self, campaign_id: str) -> None:
        await self.call(endpoints.delete_campaign(campaign_id))

    async def campaign_plot(self, campaign_id: str) -> bytes:
        return await self.call(endpoints.campaign_plot(campaign_id))

    async def campaign_history(self, campaign_id: str) -> str:
        return await self.call(endpoints.campaign_history(campaign_id))

    async def campaign_optimizers(self) -> dict[str, Any]:
        return await self.call(endpoints.campaign_optimizers())
