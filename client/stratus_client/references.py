"""What a user names things by, turned into what the API takes: algorithms by name (`threshold`,
`threshold:1`) or id, inputs by local path or file id, workflows as plain structures or models."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stratus_client.errors import InvalidInputError, NotFoundError
from stratus_client.models import Algorithm

ID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def is_id(text: str) -> bool:
    """Whether ``text`` is an id the API hands out (a uuid string)."""
    return bool(ID_PATTERN.match(text))


@dataclass(frozen=True)
class AlgorithmRef:
    """An algorithm as named: by id, or by name with an optional major version."""

    algorithm_id: str | None = None
    name: str | None = None
    major: int | None = None


def parse_algorithm_ref(text: str) -> AlgorithmRef:
    """`<uuid>` → by id; `name:2` → name, major 2; `name` → name, any major."""
    text = text.strip()
    if is_id(text):
        return AlgorithmRef(algorithm_id=text)
    name, sep, major = text.rpartition(":")
    if sep and major.isdigit() and name:
        return AlgorithmRef(name=name, major=int(major))
    if not text:
        raise InvalidInputError("an algorithm name or id is required")
    return AlgorithmRef(name=text)


def pick_algorithm(algorithms: Sequence[Algorithm], name: str) -> Algorithm:
    """The algorithm ``name`` means: the caller's own before the built-in (as the API resolves names),
    then the highest major version. Raises NotFoundError."""
    candidates = [a for a in algorithms if a.algorithm_name == name]
    if not candidates:
        known = sorted({a.algorithm_name for a in algorithms})
        raise NotFoundError(f"no algorithm named {name!r}; known: {known}", code="not_found")
    return max(candidates, key=lambda a: (not a.builtin, a.major))


def input_path(item: str | Path, base: Path | None = None) -> Path | None:
    """The local file ``item`` names, or None when it is a file id. Raises InvalidInputError when it is
    neither."""
    if isinstance(item, str) and is_id(item) and not Path(item).exists():
        return None
    path = Path(item)
    if not path.is_absolute() and base is not None:
        path = base / path
    if path.is_file():
        return path
    raise InvalidInputError(f"{str(item)!r} is neither a local file nor a file id")


class StepSpec(BaseModel):
    """One workflow step; `algorithm` (a name or id) may stand in for `config.algorithm_id`, and
    `config.input_dataset_ids` may list local files, uploaded on submit."""

    model_config = ConfigDict(extra="allow")

    id: str
    task_type: str = "execution"
    algorithm: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    input_mappings: list[dict[str, str]] = Field(default_factory=list)


class WorkflowSpec(BaseModel):
    """A workflow to submit: a name and its steps (the API's body, plus the sugar of StepSpec)."""

    model_config = ConfigDict(extra="allow")

    name: str
    steps: list[StepSpec]


@dataclass
class WorkflowNeeds:
    """What a workflow definition names that must be looked up or uploaded before it is sent."""

    algorithms: set[str] = field(default_factory=set)
    paths: dict[str, Path] = field(default_factory=dict)


def workflow_body(
    definition: Mapping[str, Any] | Sequence[Any] | BaseModel, name: str | None
) -> dict[str, Any]:
    """The definition as a plain dict (a bare list of steps gets ``name``); the caller's object is
    never changed."""
    if isinstance(definition, BaseModel):
        body = definition.model_dump(exclude_none=True)
    elif isinstance(definition, Mapping):
        body = copy.deepcopy(dict(definition))
    else:
        body = {"steps": copy.deepcopy(list(definition))}
    body["steps"] = [
        s.model_dump(exclude_none=True) if isinstance(s, BaseModel) else s for s in body["steps"]
    ]
    if name is not None or "name" not in body:
        body["name"] = name or "workflow"
    return body


def workflow_needs(body: Mapping[str, Any], base: Path | None) -> WorkflowNeeds:
    """The algorithm names and local files the steps mention."""
    needs = WorkflowNeeds()
    for step in body.get("steps", []):
        config = step.get("config") or {}
        reference = step.get("algorithm") or config.get("algorithm_id")
        if isinstance(reference, str) and not is_id(reference):
            needs.algorithms.add(reference)
        for item in config.get("input_dataset_ids") or []:
            path = input_path(item, base)
            if path is not None:
                needs.paths[str(item)] = path
    return needs


def apply_workflow_needs(
    body: dict[str, Any], algorithm_ids: Mapping[str, str], file_ids: Mapping[str, str]
) -> dict[str, Any]:
    """The body with names replaced by algorithm ids and local files by the ids they were uploaded as;
    a step without `task_type` is an execution."""
    for step in body.get("steps", []):
        step.setdefault("task_type", "execution")
        config = step.setdefault("config", {})
        reference = step.pop("algorithm", None) or config.get("algorithm_id")
        if isinstance(reference, str):
            config["algorithm_id"] = algorithm_ids.get(reference, reference)
        if "input_dataset_ids" in config:
            config["input_dataset_ids"] = [file_ids.get(str(i), i) for i in config["input_dataset_ids"]]
    return body
