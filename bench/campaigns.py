"""Campaign figures through the local stack (issue 12 §4).

Starts `python -m stratus.local`, uploads one input, and runs on the built-in `branin` (KPI `branin`,
x ∈ [-5, 10], y ∈ [0, 15], optimum 0.397887) a Bayesian campaign (optuna's Gaussian-process sampler)
and a random sweep, each `--trials` trials `--batch` at a time with fixed seeds, one after the other.
For each it prints:
- the best value found, its gap to the optimum (target for the Bayesian campaign: within 2 %, and
  better than the random sweep's);
- wall time: from the POST to the campaign's completed_at;
- scheduling overhead per trial = (wall time − busy time) / trials, where busy time is the length of the
  union of the trials' executions' [time_started, time_completed] intervals, i.e. the time during which
  at least one trial's algorithm ran. What is left is the platform's own share (asking the optimizer,
  accepting executions, starting child runs and Batch jobs, collecting results, the plot, the waits
  between rounds), spread over the trials. Target: under 5 s a trial on this 2-core machine.

Usage: python bench/campaigns.py [--trials N] [--batch N] [--seed N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from stratus.local.process import LocalStackProcess, running_local_stack

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/ is a folder of scripts, not a package
from e2e import hdf5_data, upload  # noqa: E402

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
CAMPAIGNS = "/api/v0/campaigns"
FINAL = {"COMPLETED", "FAILED", "CANCELLED"}
# The launcher's own variables (stratus.local.__main__); unset, the bench takes free ports.
PORT_VARIABLES = ("STRATUS_LOCAL_API_PORT", "STRATUS_LOCAL_AWS_PORT", "STRATUS_LOCAL_S3_PORT")
BRANIN_OPTIMUM = 0.397887
GAP_TARGET = 0.02
OVERHEAD_TARGET_S = 5.0
POLL_INTERVAL_S = 1.0
CAMPAIGN_TIMEOUT_S = 1800


def running_stack() -> contextlib.AbstractContextManager[LocalStackProcess]:
    """The local stack on the ports of PORT_VARIABLES (free ones where unset)."""
    api_port, aws_port, s3_port = (int(os.environ.get(name) or 0) or None for name in PORT_VARIABLES)
    return running_local_stack(TEMPLATE, api_port, aws_port, None, s3_port)


def timestamp(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def run_campaign(api: httpx.Client, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
    """Start the campaign and wait for its end; returns it and its wall time (POST → completed_at)."""
    posted = time.time()
    response = api.post(CAMPAIGNS, json=body)
    response.raise_for_status()
    campaign_id = response.json()["campaign_id"]
    deadline = time.monotonic() + CAMPAIGN_TIMEOUT_S
    while time.monotonic() < deadline:
        campaign: dict[str, Any] = api.get(f"{CAMPAIGNS}/{campaign_id}").json()
        if campaign["status"] in FINAL:
            return campaign, timestamp(campaign["completed_at"]) - posted
        time.sleep(POLL_INTERVAL_S)
    raise TimeoutError(f"campaign {campaign_id} did not end within {CAMPAIGN_TIMEOUT_S} s")


def busy_time(api: httpx.Client, campaign: dict[str, Any]) -> float:
    """The length of the union of the trials' executions' run intervals."""
    intervals = []
    for trial in campaign["trials"]:
        execution = api.get(f"/api/v0/executions/{trial['execution_id']}").json()
        if execution["time_started"] and execution["time_completed"]:
            intervals.append((timestamp(execution["time_started"]), timestamp(execution["time_completed"])))
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop > end:
            total += stop - max(start, end)
            end = stop
    return total


def report(api: httpx.Client, label: str, campaign: dict[str, Any], wall: float) -> float:
    """Print one campaign's figures; returns its best value."""
    values = [t["kpis"]["branin"] for t in campaign["trials"] if t["status"] == "COMPLETED"]
    best = min(values) if values else float("inf")
    gap = (best - BRANIN_OPTIMUM) / BRANIN_OPTIMUM
    trials = len(campaign["trials"])
    overhead = (wall - busy_time(api, campaign)) / max(trials, 1)
    print(f"{label}: {campaign['status']}, {len(values)}/{trials} trials completed")
    print(f"  best branin {best:.6f} vs optimum {BRANIN_OPTIMUM} (gap {gap:.2%})")
    print(f"  wall time POST → completed_at {wall:.1f} s")
    print(f"  scheduling overhead per trial {overhead:.2f} s (target < {OVERHEAD_TARGET_S:.0f} s)")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=40, help="trials per campaign (default 40)")
    parser.add_argument("--batch", type=int, default=4, help="trials run at once (default 4)")
    parser.add_argument("--seed", type=int, default=1, help="both campaigns' seed (default 1)")
    args = parser.parse_args()
    print(f"1-min load average before the stack started: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    with (
        running_stack() as stack,
        httpx.Client(base_url=stack.api_url, timeout=60, headers=stack.headers("local")) as api,
    ):
        common = {
            "algorithm_name": "branin",
            "algorithm_major_version": 1,
            "input_dataset_ids": [upload(api, hdf5_data((2, 2)))],
            "search_space": {"x": {"low": -5, "high": 10}, "y": {"low": 0, "high": 15}},
            "objectives": [{"name": "branin", "direction": "minimize"}],
            "budget": args.trials,
            "batch_size": args.batch,
            "seed": args.seed,
        }
        bayesian, wall = run_campaign(api, {**common, "kind": "bayesian", "optimizer": "gp"})
        best_bo = report(api, f"bayesian (gp), {args.trials} trials, batch {args.batch}", bayesian, wall)
        sweep, wall = run_campaign(api, {**common, "kind": "random"})
        best_random = report(api, f"random sweep, {args.trials} trials, batch {args.batch}", sweep, wall)
        within = (best_bo - BRANIN_OPTIMUM) / BRANIN_OPTIMUM <= GAP_TARGET
        print(f"bayesian within {GAP_TARGET:.0%} of the optimum: {'yes' if within else 'NO'} (target yes)")
        print(f"bayesian better than random: {'yes' if best_bo < best_random else 'NO'} (target yes)")


if __name__ == "__main__":
    main()
