"""A workflow's steps as a graph: checked once when it is created (every error names its step), then
ordered, and walked for what is ready, downstream or final."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any

from stratus.errors import InvalidInputError
from stratus.models.workflows import FIELD_PATTERN, SOURCE_FIELDS, TARGET_FIELDS

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from stratus.models.workflows import FieldMapping, WorkflowStepDefinition


def check(steps: Sequence[WorkflowStepDefinition]) -> list[str]:
    """The step ids in an order where every step comes after its dependencies.

    Raises InvalidInputError naming the step: a duplicate id, an unknown dependency, a cycle, a mapping
    from a step that is not upstream, or a field the source does not offer or the target does not take.
    """
    by_id: dict[str, WorkflowStepDefinition] = {}
    for step in steps:
        if step.id in by_id:
            raise InvalidInputError(f"step {step.id}: the id is used by another step")
        by_id[step.id] = step
    for step in steps:
        for dependency in step.depends_on:
            if dependency not in by_id:
                raise InvalidInputError(f"step {step.id}: depends on unknown step {dependency}")
    order = _order(by_id)
    ancestors = upstream_of(by_id)
    for step in steps:
        for mapping in step.input_mappings:
            _check_mapping(step, mapping, by_id, ancestors[step.id])
    return order


def _order(by_id: Mapping[str, WorkflowStepDefinition]) -> list[str]:
    try:
        return list(TopologicalSorter({i: s.depends_on for i, s in by_id.items()}).static_order())
    except CycleError as exc:
        cycle = " → ".join(reversed(exc.args[1]))
        raise InvalidInputError(f"step {exc.args[1][0]}: its dependencies form a cycle ({cycle})") from exc


def upstream_of(by_id: Mapping[str, WorkflowStepDefinition]) -> dict[str, set[str]]:
    """Each step's transitive dependencies (the graph has no cycle)."""
    ancestors: dict[str, set[str]] = {}

    def visit(step_id: str) -> set[str]:
        if step_id not in ancestors:
            found: set[str] = set()
            for dependency in by_id[step_id].depends_on:
                found |= {dependency, *visit(dependency)}
            ancestors[step_id] = found
        return ancestors[step_id]

    for step_id in by_id:
        visit(step_id)
    return ancestors


def _check_mapping(
    step: WorkflowStepDefinition,
    mapping: FieldMapping,
    by_id: Mapping[str, WorkflowStepDefinition],
    ancestors: set[str],
) -> None:
    where = f"step {step.id}: mapping from {mapping.from_step}.{mapping.from_field}"
    if mapping.from_step not in by_id:
        raise InvalidInputError(f"{where}: unknown step {mapping.from_step}")
    if mapping.from_step not in ancestors:
        raise InvalidInputError(f"{where}: {mapping.from_step} is not upstream (add it to depends_on)")
    source_type = by_id[mapping.from_step].task_type
    match = FIELD_PATTERN.match(mapping.from_field)
    offered = SOURCE_FIELDS[source_type]
    if match is None or match["name"] not in offered:
        raise InvalidInputError(
            f"{where}: a {source_type.value} step offers {', '.join(sorted(offered))}, not that field"
        )
    if match["index"] is not None and not offered[match["name"]]:
        raise InvalidInputError(f"{where}: {match['name']} is one value, not a list to index")
    taken = TARGET_FIELDS[step.task_type]
    if mapping.to_field not in taken:
        raise InvalidInputError(
            f"{where}: a {step.task_type.value} step takes {', '.join(sorted(taken))}, not {mapping.to_field}"
        )
    gives_list = offered[match["name"]] and match["index"] is None
    if gives_list and not taken[mapping.to_field]:
        raise InvalidInputError(
            f"{where}: {mapping.to_field} takes one value; pick one with an index, e.g. {match['name']}[0]"
        )


def mapped_fields(step: WorkflowStepDefinition) -> set[str]:
    """The body fields the step's mappings supply."""
    return {m.to_field for m in step.input_mappings}


def apply_mappings(step: WorkflowStepDefinition, results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The step's body: its config with each mapped upstream output set (a list field collects every
    mapping into it, in order). Raises InvalidInputError when an upstream result lacks the value."""
    body = dict(step.config)
    collected: dict[str, list[Any]] = {}
    for mapping in step.input_mappings:
        value = _pick(results.get(mapping.from_step) or {}, mapping, step.id)
        if TARGET_FIELDS[step.task_type][mapping.to_field]:
            collected.setdefault(mapping.to_field, []).extend(value if isinstance(value, list) else [value])
        else:
            body[mapping.to_field] = value
    body.update(collected)
    return body


def _pick(result: Mapping[str, Any], mapping: FieldMapping, step_id: str) -> Any:
    match = FIELD_PATTERN.match(mapping.from_field)
    assert match is not None  # checked at create
    value = result.get(match["name"])
    if match["index"] is not None:
        index = int(match["index"])
        value = value[index] if isinstance(value, list) and index < len(value) else None
    if value is None or value == []:
        raise InvalidInputError(
            f"step {step_id}: {mapping.from_step} gave no {mapping.from_field} (its result: {dict(result)})"
        )
    return value


def downstream_of(step_ids: Iterable[str], by_id: Mapping[str, WorkflowStepDefinition]) -> set[str]:
    """Every step that depends, directly or not, on one of ``step_ids``."""
    dependents: dict[str, list[str]] = {i: [] for i in by_id}
    for step in by_id.values():
        for dependency in step.depends_on:
            dependents[dependency].append(step.id)
    found: set[str] = set()
    todo = list(step_ids)
    while todo:
        for child in dependents[todo.pop()]:
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def final_steps(steps: Sequence[WorkflowStepDefinition]) -> list[str]:
    """The steps nothing depends on, in definition order."""
    needed = {d for s in steps for d in s.depends_on}
    return [s.id for s in steps if s.id not in needed]
