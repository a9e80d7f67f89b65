"""Workflow figures through the local stack (issue 10 §7).

Starts `python -m stratus.local` with the tenant's job caps raised (a 50-wide fan-out would otherwise
wait on the default 10 running jobs) and prints:
- a 200-step DAG of `threshold` steps, 50 chains of depth 4 (step i of layer k depends on step i of
  layer k-1), each chain's root reading an HDF5 file of its own: wall time (POST → COMPLETED), the jobs'
  own time, scheduler overhead per step three ways, the most steps and jobs running at once, each
  round's plan task and Map time, and the Step Functions history events of the workflow's run;
- the history events that run projects for a 1,000-step workflow (target < 25,000);
- the same DAG as a new workflow (every step `cache: true` in both runs, so the first fills the cache):
  wall time, Batch jobs started (target 0) and its plan task's time beside the steps function's timeout.

Usage: python bench/workflows.py [--chains N] [--depth N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from stratus.local.process import BATCH_STATUSES, LocalStackProcess, running_local_stack
from stratus.services.workflow_runs import ROUND_LIMIT
from stratus.stores import StateMachineStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/ is a folder of scripts, not a package
from e2e import algorithm_id, hdf5_data, upload  # noqa: E402

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
WORKFLOWS = "/api/v0/workflows"
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
# The launcher's own variables (stratus.local.__main__); unset, the bench takes free ports.
PORT_VARIABLES = ("STRATUS_LOCAL_API_PORT", "STRATUS_LOCAL_AWS_PORT", "STRATUS_LOCAL_S3_PORT")
# A 200-step GET is a few hundred KB that the API serialises on the same 2 cores as the jobs; the end is
# read from the record's completed_at, not from how soon a poll saw it.
POLL_INTERVAL_S = 0.5
WORKFLOW_TIMEOUT_S = 900
PROJECTED_STEPS = 1000
# Issue 10: under 25,000 events at 1,000 steps, Step Functions' hard limit on one execution's history.
HISTORY_TARGET = 25_000


def running_stack(parameters: dict[str, str]) -> contextlib.AbstractContextManager[LocalStackProcess]:
    """The local stack with these template parameters, on the ports of PORT_VARIABLES (free ones where
    unset)."""
    api_port, aws_port, s3_port = (int(os.environ.get(name) or 0) or None for name in PORT_VARIABLES)
    return running_local_stack(TEMPLATE, api_port, aws_port, parameters, s3_port)


def dag(threshold: str, roots: list[str], depth: int) -> list[dict[str, Any]]:
    """Chains of ``depth`` threshold steps, one per root file, listed layer by layer. Each layer has its
    own threshold: masks of 2×2 inputs repeat, and a later layer whose inputs and parameters equalled an
    earlier one's would hit the cache in the first run too."""
    steps = []
    for layer in range(depth):
        parameters = {"threshold": round(0.5 - 0.05 * layer, 2)}
        for chain, file_id in enumerate(roots):
            config: dict[str, Any] = {"algorithm_id": threshold, "additional_parameters": parameters}
            step: dict[str, Any] = {"id": f"c{chain}-l{layer}", "task_type": "execution", "cache": True}
            if layer == 0:
                config["input_dataset_ids"] = [file_id]
            else:
                upstream = f"c{chain}-l{layer - 1}"
                step["depends_on"] = [upstream]
                step["input_mappings"] = [
                    {
                        "from_step": upstream,
                        "from_field": "output_dataset_ids[0]",
                        "to_field": "input_dataset_ids",
                    }
                ]
            steps.append({**step, "config": config})
    return steps


def run_workflow(api: httpx.Client, steps: list[dict[str, Any]], name: str) -> tuple[dict[str, Any], float]:
    """Create (and start) a workflow and poll it to its end; returns it and its wall time in seconds
    (the POST to the record's completed_at)."""
    posted = time.time()
    response = api.post(WORKFLOWS, json={"name": name, "steps": steps})
    if response.status_code != 201:
        raise RuntimeError(f"POST {WORKFLOWS} answered {response.status_code}: {response.text[:2000]}")
    workflow_id = response.json()["id"]
    deadline = time.monotonic() + WORKFLOW_TIMEOUT_S
    while time.monotonic() < deadline:
        workflow: dict[str, Any] = api.get(f"{WORKFLOWS}/{workflow_id}").json()
        if workflow["status"] in FINAL:
            if workflow["status"] != "COMPLETED":
                raise RuntimeError(f"workflow {workflow_id} ended {workflow['status']}: {describe(workflow)}")
            return workflow, timestamp(workflow["completed_at"]) - posted
        time.sleep(POLL_INTERVAL_S)
    workflow = api.get(f"{WORKFLOWS}/{workflow_id}").json()
    raise TimeoutError(f"workflow {workflow_id} not over in {WORKFLOW_TIMEOUT_S} s: {describe(workflow)}")


def describe(workflow: dict[str, Any]) -> str:
    """The workflow's status, errors, and its steps counted by status, with the first few not COMPLETED."""
    counts: dict[str, int] = {}
    for step in workflow["steps"]:
        counts[step["status"]] = counts.get(step["status"], 0) + 1
    stray = [
        {key: step[key] for key in ("step_id", "status", "task_id", "error_message", "retry_count")}
        for step in workflow["steps"]
        if step["status"] != "COMPLETED"
    ]
    return json.dumps({"status": workflow["status"], "errors": workflow["errors"], "steps": counts,
                       "not completed": stray[:5]})  # fmt: skip


def timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def peak_overlap(intervals: list[tuple[float, float]]) -> int:
    """The most intervals open at one moment (an end at the same moment as a start closes first)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = current = 0
    for _, change in edges:
        current += change
        peak = max(peak, current)
    return peak


def job_intervals(api: httpx.Client, workflow: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Each step's job: (time_started, time_completed) of its execution, by step id."""
    intervals = {}
    for step in workflow["steps"]:
        record = api.get(f"/api/v0/executions/{step['task_id']}").json()
        intervals[step["step_id"]] = (timestamp(record["time_started"]), timestamp(record["time_completed"]))
    return intervals


def report_run(api: httpx.Client, workflow: dict[str, Any], wall: float, depth: int) -> None:
    steps = workflow["steps"]
    count = len(steps)
    jobs = job_intervals(api, workflow)
    job_time = sum(end - start for start, end in jobs.values())
    step_peak = peak_overlap([(timestamp(s["started_at"]), timestamp(s["completed_at"])) for s in steps])
    job_peak = peak_overlap(list(jobs.values()))
    # Per dependent step: upstream job's end → its own job's start; and the part of it spent waiting
    # for the slowest job of the upstream's layer (a round's Map ends once all its child runs have).
    layer_end = {
        layer: max(end for step_id, (_, end) in jobs.items() if step_id.endswith(f"-l{layer}"))
        for layer in range(depth)
    }
    gaps, barriers = [], []
    for step in steps:
        for upstream in step["dependencies"]:
            upstream_end = jobs[upstream][1]
            gaps.append(jobs[step["step_id"]][0] - upstream_end)
            barriers.append(layer_end[int(upstream.rpartition("-l")[2])] - upstream_end)
    cached = sum(s["cached_from"] is not None for s in steps)
    print(f"{count}-step DAG ({count // depth} chains of depth {depth}) of threshold, first run:")
    print(f"  wall time POST → COMPLETED {wall:.2f} s (record's completed_at); steps from cache: {cached}")
    print(f"  jobs' own time (Σ execution time_completed − time_started): {job_time:.2f} s, "
          f"mean {job_time / count * 1000:.0f} ms per job")  # fmt: skip
    print("  scheduler overhead per step:")
    # (a) Everything the platform spent per step, jobs included: the figure a user sees.
    print(f"    (a) wall / steps: {wall / count * 1000:.0f} ms")
    # (b) Latency from one job's end to its dependent job's start (its child run's MarkStarted): the wait
    # for the layer's slowest job, then the next plan task (collect, then start) and the child runs' start.
    print(f"    (b) upstream job's end → dependent job's start: mean {statistics.mean(gaps) * 1000:.0f} ms, "
          f"max {max(gaps) * 1000:.0f} ms over {len(gaps)} edges; of the mean, "
          f"{statistics.mean(barriers) * 1000:.0f} ms waiting for the layer's slowest job")  # fmt: skip
    # (c) What wall time the jobs' own time does not explain if they had run packed at the peak
    # concurrency they reached: total, and per step.
    unexplained = wall - job_time / job_peak
    print(f"    (c) wall − Σ job time / peak jobs at once: {unexplained:.2f} s → "
          f"{unexplained / count * 1000:.0f} ms per step")  # fmt: skip
    print(f"  most steps RUNNING at once (steps' started_at..completed_at): {step_peak}; "
          f"most jobs at once (executions' time_started..time_completed): {job_peak}")  # fmt: skip


def run_history(stack: LocalStackProcess, workflow_id: str) -> list[dict[str, Any]]:
    """The events of the workflow's first run (`<id>-1` of WorkflowStateMachine), once it has ended."""
    sfn = stack.client("stepfunctions")
    machines = sfn.list_state_machines()["stateMachines"]
    machine = next(m["stateMachineArn"] for m in machines if "Workflow" in m["name"])
    arn = StateMachineStore(sfn, machine).execution_arn(f"{workflow_id}-1")
    deadline = time.monotonic() + 60
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise TimeoutError(f"the run {arn} still RUNNING a minute after its workflow ended")
        time.sleep(0.1)
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [event for page in pages for event in page["events"]]


def iteration_lengths(inside: list[dict[str, Any]]) -> list[int]:
    """Events per Map iteration. Within an iteration each event's previousEventId is the one before it,
    back to its MapIterationStarted, however the iterations interleave in the history."""
    by_id = {event["id"]: event for event in inside}
    owner: dict[int, int] = {}
    for event in inside:
        path, current = [], event["id"]
        while current not in owner and by_id[current]["type"] != "MapIterationStarted":
            path.append(current)
            current = by_id[current]["previousEventId"]  # a KeyError: it left the Map, not one iteration
        root = owner.get(current, current)
        owner.update(dict.fromkeys([*path, current], root))
    lengths: dict[int, int] = {}
    for root in owner.values():
        lengths[root] = lengths.get(root, 0) + 1
    return list(lengths.values())


def split_history(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The events of Map iterations, and the counts of the rest. An inline Map's iterations write theirs
    between its MapStateStarted and MapStateSucceeded (or Failed); a round is from one PlanRound entry to
    the next, and a run round is one that ran a Map. The rest (start, the last plan, the end) is fixed."""
    inside: list[dict[str, Any]] = []
    rounds: list[tuple[int, bool]] = []  # per round: its events outside Map iterations, did it run a Map
    in_map = False
    for event in sorted(events, key=lambda e: e["id"]):
        kind = event["type"]
        if kind == "TaskStateEntered" and event["stateEnteredEventDetails"]["name"] == "PlanRound":
            rounds.append((0, False))
        if in_map and kind not in ("MapStateSucceeded", "MapStateFailed", "MapStateAborted"):
            inside.append(event)
            continue
        in_map = kind == "MapStateStarted"
        if rounds:
            rounds[-1] = (rounds[-1][0] + 1, rounds[-1][1] or in_map)
    run_rounds = [outside for outside, ran in rounds if ran]
    per_round = round(statistics.mean(run_rounds)) if run_rounds else 0
    fixed = len(events) - len(inside) - per_round * len(run_rounds)
    return inside, {"run_rounds": len(run_rounds), "per_round": per_round, "fixed": fixed}


def report_failed_run(api: httpx.Client, failure: dict[str, Any]) -> None:
    """A step's child run that failed (its RunStep took the Catch), and how its job's record ended."""
    try:
        child = json.loads(failure.get("cause", ""))  # startExecution.sync:2 fails with the run described
    except json.JSONDecodeError:
        print(f"    a step's child run failed: {failure.get('error')}: {failure.get('cause', '')[:300]}")
        return
    record = api.get(f"/api/v0/executions/{child['Name']}").json()
    print(f"    a step's child run {child['Name']} ended {child.get('Status')}: {child.get('Error')}: "
          f"{str(child.get('Cause'))[:200]}; its execution record is {record['status']}")  # fmt: skip


def report_history(api: httpx.Client, events: list[dict[str, Any]], count: int, depth: int) -> None:
    inside, split = split_history(events)
    lengths = iteration_lengths(inside)
    shapes = {length: lengths.count(length) for length in sorted(set(lengths))}
    print(f"  history of the workflow's run (moto's get_execution_history): {len(events)} events")
    if len(lengths) != count:
        print(f"  ({len(lengths)} Map iterations for {count} steps: no projection is made)")
        return
    # The most common iteration is a step whose child run succeeded; others took a Catch.
    per_step = max(shapes, key=lambda length: shapes[length])
    per_round, fixed = split["per_round"], split["fixed"]
    print(f"    = {len(inside)} in Map iterations (events per iteration × iterations: "
          f"{', '.join(f'{n} × {k}' for n, k in shapes.items())}) + {per_round} per round × "
          f"{split['run_rounds']} rounds + {fixed} fixed (start, last plan, end)")  # fmt: skip
    for event in inside:
        if event["type"] == "TaskFailed":
            report_failed_run(api, event["taskFailedEventDetails"])

    def projected(rounds: int) -> int:
        return fixed + per_round * rounds + per_step * PROJECTED_STEPS

    # A round runs at least one step, so no 1,000-step DAG takes more rounds than a chain of 1,000
    # (rounds that only wait on a full queue add events with time, not steps; the caps here allow none).
    print(f"projected history at {PROJECTED_STEPS:,} steps, {per_step} events per step (target < "
          f"{HISTORY_TARGET:,}, Step Functions' limit):")  # fmt: skip
    print(f"  a chain of {PROJECTED_STEPS:,} ({PROJECTED_STEPS:,} rounds, the most any DAG of that size "
          f"takes): {projected(PROJECTED_STEPS):,} events")  # fmt: skip
    # A round starts at most ROUND_LIMIT steps: each 250-wide layer takes two.
    shaped_rounds = depth * math.ceil(PROJECTED_STEPS / depth / ROUND_LIMIT)
    print(f"  this DAG's shape, {PROJECTED_STEPS // depth} chains of depth {depth} ({shaped_rounds} rounds "
          f"of ≤ {ROUND_LIMIT} steps): {projected(shaped_rounds):,} events")  # fmt: skip


def report_rounds(events: list[dict[str, Any]], timeout: int) -> None:
    """Each round's plan task (Lambda scheduled → ended) and Map (its child runs), in seconds."""
    plans: list[float] = []
    maps: list[float] = []
    started = {"plan": 0.0, "map": 0.0}
    in_map = False
    for event in sorted(events, key=lambda e: e["id"]):
        kind, moment = event["type"], event["timestamp"].timestamp()
        if kind == "MapStateStarted":
            in_map, started["map"] = True, moment
        elif kind in ("MapStateSucceeded", "MapStateFailed", "MapStateAborted"):
            in_map = False
            maps.append(moment - started["map"])
        elif in_map:
            continue  # an iteration's own tasks (SettleStep) are not plan tasks
        elif kind == "LambdaFunctionScheduled":
            started["plan"] = moment
        elif kind.startswith("LambdaFunction") and kind != "LambdaFunctionStarted":
            plans.append(moment - started["plan"])
    print(
        f"  per round, plan task s: {' '.join(f'{s:.1f}' for s in plans)} (longest {max(plans):.1f} s; "
        f"on AWS the steps function stops at {timeout} s); Map s: {' '.join(f'{s:.1f}' for s in maps) or '-'}"
    )


def steps_timeout(stack: LocalStackProcess) -> int:
    """The steps function's Timeout (template.yaml): the plan task's limit on AWS."""
    functions = stack.client("lambda").list_functions()["Functions"]
    return int(next(f["Timeout"] for f in functions if "StepsFunction" in f["FunctionName"]))


def batch_jobs(stack: LocalStackProcess) -> int:
    """Batch jobs of every queue in every status: the jobs ever submitted."""
    batch = stack.client("batch")
    pages = batch.get_paginator("list_jobs")
    return sum(
        len(page["jobSummaryList"])
        for queue in batch.describe_job_queues()["jobQueues"]
        for status in BATCH_STATUSES  # ListJobs filters by one status at a time
        for page in pages.paginate(jobQueue=queue["jobQueueArn"], jobStatus=status)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chains", type=int, default=50, help="root steps, one file each (default 50)")
    parser.add_argument("--depth", type=int, default=4, help="steps per chain (default 4)")
    args = parser.parse_args()
    count = args.chains * args.depth
    # No cap below the DAG: neither the running nor the queued jobs of a layer wait on the tenant's caps.
    caps = {"TenantMaxRunningJobs": str(count), "TenantMaxQueuedJobs": str(2 * count)}
    print(f"1-min load average before the stack started: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    with (
        running_stack(caps) as stack,
        httpx.Client(base_url=stack.api_url, timeout=60, headers=stack.headers("local")) as api,
    ):
        slots = api.get("/api/v0/monitoring/workers").json()["max_running_jobs"]
        print(f"tenant caps: TenantMaxRunningJobs {caps['TenantMaxRunningJobs']} (the API reports "
              f"max_running_jobs {slots}), TenantMaxQueuedJobs {caps['TenantMaxQueuedJobs']} "
              "(defaults 10 and 100)")  # fmt: skip
        threshold = algorithm_id(api, "threshold")
        roots = [upload(api, hdf5_data((2, 2), seed=seed)) for seed in range(args.chains)]
        steps = dag(threshold, roots, args.depth)
        before = batch_jobs(stack)
        first, wall = run_workflow(api, steps, "bench")
        started = batch_jobs(stack) - before
        report_run(api, first, wall, args.depth)
        print(f"  Batch jobs started: {started}")
        timeout = steps_timeout(stack)
        events = run_history(stack, first["id"])
        report_rounds(events, timeout)
        report_history(api, events, count, args.depth)
        before = batch_jobs(stack)
        second, wall = run_workflow(api, steps, "bench again")
        started = batch_jobs(stack) - before
        cached = sum(s["cached_from"] is not None for s in second["steps"])
        print("the same DAG again, every step cache: true (a new workflow; the first run filled the cache):")
        print(f"  wall time POST → COMPLETED {wall:.2f} s; steps from cache {cached}/{count}, "
              f"steps with a job {sum(s['task_id'] is not None for s in second['steps'])}")  # fmt: skip
        print(f"  Batch jobs started: {started} (target 0)")
        report_rounds(run_history(stack, second["id"]), timeout)


if __name__ == "__main__":
    main()
