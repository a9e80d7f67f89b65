"""Training figures through the local stack (issue 8), and its execute figures.

Starts `python -m stratus.local` and prints:
- on the fresh stack, as bench/e2e.py measures them: execute POST p50 over sequential POSTs of
  `threshold`, and completions per second of 20 executions submitted at once (bench/e2e.py's burst);
- then, after uploading seeded synthetic blob volumes and masks (gpu_worker.compute.synthetic), one
  sample per pair, and training the built-in `unet_segmentation` as a chain of 2 rounds selected on Dice:
  the chain's wall time (POST → COMPLETED), its steps, and its Step Functions history events per round;
- time per training step inside Stratus (the runner's own timing of its training loop, read from the
  training's log) against the same `Trainer` loop in plain PyTorch in this process, with the same pairs,
  configuration, starting weights and torch thread count;
- Dice of the best checkpoint on held-out volumes, executed through the API and scored here.

Usage: python bench/training.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import h5py
import httpx
import numpy as np
import torch
from stratus.local.process import LocalStackProcess, running_local_stack
from stratus.stores import StateMachineStore

from gpu_worker.compute.make_unet_weights import weights_path
from gpu_worker.compute.synthetic import SEED, input_file, make_pair, target_file
from gpu_worker.compute.training import Trainer, TrainingConfig, stack_pairs
from gpu_worker.compute.unet import UNet

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/ is a folder of scripts, not a package
from api_latency import percentile  # noqa: E402
from e2e import TERMINAL, algorithm_id, bench_burst, execute, hdf5_data, upload, wait_until  # noqa: E402

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
ROUNDS = 2
# docs/orchestration.md "History: events per round": a chain of N rounds writes 15 N + 16 events.
FIXED_EVENTS = 16
# A progress bar's pace: the training's own steps compete with every poll for the same 2 cores, so the
# chain's end is read from the record's time_completed, not from how soon a poll saw it.
TRAINING_POLL_S = 0.5
TRAINING_TIMEOUT_S = 900
# What each side of the per-step comparison includes.
SIDES = """\
  Stratus: Trainer.run_epoch with the runner's on_step (progress write and stop poll, each once a second)
    in a Batch job's worker process per round, moto and the API serving its writes; timed by the runner
    around each epoch (evaluation and checkpoints outside)
  plain: the same Trainer.run_epoch without on_step, in this process, with the same pairs, config and
    starting weights, the stack idle"""
# The runner's last log line of each round (gpu_worker/builtins/unet_segmentation/Runner.py).
TRAINED = re.compile(
    r"Trained (?P<steps>\d+) steps in (?P<seconds>[\d.]+) s, (?P<first>[\d.]+) s of them in epoch 1 "
    r"\((?P<first_steps>\d+) steps\), with (?P<threads>\d+) torch threads"
)

Pair = tuple[np.ndarray, np.ndarray]


def upload_samples(api: httpx.Client, pairs: list[Pair]) -> list[str]:
    """One sample per (volume, mask) pair; returns the sample ids."""
    sample_ids = []
    for volume, mask in pairs:
        entry = {"input": [upload(api, input_file(volume))], "target": [upload(api, target_file(mask))]}
        response = api.post("/api/v0/sample", json={"files": [entry]})
        response.raise_for_status()
        sample_ids.append(str(response.json()["sample_id"]))
    return sample_ids


def train_chain(api: httpx.Client, body: dict[str, Any]) -> tuple[dict[str, Any], float, float]:
    """Start a training and poll it to the end; returns its record, the POST's wall-clock time and the
    seconds until a poll saw it end."""
    posted = time.time()
    response = api.post("/api/v0/train-algorithm", json=body)
    response.raise_for_status()
    training_id = response.json()["training_id"]
    deadline = time.monotonic() + TRAINING_TIMEOUT_S
    while time.monotonic() < deadline:
        record: dict[str, Any] = api.get(f"/api/v0/training/{training_id}").json()
        if record["status"] in TERMINAL:
            if record["status"] != "COMPLETED":
                log = record["log"][-2000:]
                raise RuntimeError(f"training {training_id} ended {record['status']}: {log}")
            return record, posted, time.time() - posted
        time.sleep(TRAINING_POLL_S)
    raise TimeoutError(f"training {training_id} did not end in {TRAINING_TIMEOUT_S} s")


def log_lines(api: httpx.Client, training_id: str) -> list[str]:
    """Every line of a training's log, through GET /api/v0/training/{id}/logs."""
    lines: list[str] = []
    while True:
        page = api.get(f"/api/v0/training/{training_id}/logs", params={"from_line": len(lines)}).json()
        if not page["lines"]:
            return lines
        lines += [line["text"] for line in page["lines"]]


def history_events(stack: LocalStackProcess, training_id: str) -> int:
    """Events in the training's Step Functions history, once its execution has ended."""
    sfn = stack.client("stepfunctions")
    machines = sfn.list_state_machines()["stateMachines"]
    machine = next(m["stateMachineArn"] for m in machines if "Training" in m["name"])
    arn = StateMachineStore(sfn, machine).execution_arn(training_id)
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        time.sleep(0.05)
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    return sum(len(page["events"]) for page in pages)


def report_chain(stack: LocalStackProcess, training: dict[str, Any], posted: float, seen: float) -> None:
    completed = datetime.fromisoformat(training["time_completed"]).timestamp()
    rounds = len(training["rounds"])
    print(f"chain of {rounds} rounds of unet_segmentation on {training['resolved_device']}:")
    print(f"  POST → COMPLETED {completed - posted:.2f} s (record's time_completed; a poll every "
          f"{TRAINING_POLL_S} s saw it after {seen:.2f} s)")  # fmt: skip
    print(f"  steps {training['current_step']}/{training['total_steps']}, "
          f"rounds {[r['status'] for r in training['rounds']]}")  # fmt: skip
    events = history_events(stack, training["training_id"])
    per_round = (events - FIXED_EVENTS) / rounds
    print(f"  Step Functions history: {events} events = {FIXED_EVENTS} fixed + {per_round:g} per round "
          f"(target ≤ 150 per round)")  # fmt: skip


def runner_loops(api: httpx.Client, training: dict[str, Any]) -> list[dict[str, float]]:
    """The runner's own timing of each round's training loop, from the training's log."""
    loops = [
        {key: float(value) for key, value in match.groupdict().items()}
        for line in log_lines(api, training["training_id"])
        if (match := TRAINED.search(line))
    ]
    if len(loops) != len(training["rounds"]):
        raise RuntimeError(f"{len(loops)} 'Trained N steps' log lines for {len(training['rounds'])} rounds")
    return loops


def plain_loop(weights: bytes, pairs: list[Pair], config: TrainingConfig) -> dict[str, float]:
    """The runner's training loop without Stratus: the starting weights, the same stacked data and
    `Trainer`, every epoch timed as the runner times it, but no `on_step` callback."""
    model = UNet(dims=3)
    model.load_state_dict(torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True))
    volumes, masks = stack_pairs(pairs, model.multiple, "cpu")
    trainer = Trainer(model, volumes, masks, config)
    seconds = []
    for _ in range(config.num_epochs):
        started = time.perf_counter()
        trainer.run_epoch()
        seconds.append(time.perf_counter() - started)
    return {"steps": trainer.step, "seconds": sum(seconds), "first": seconds[0],
            "first_steps": trainer.steps_per_epoch}  # fmt: skip


def per_step(loops: list[dict[str, float]]) -> tuple[float, float]:
    """Seconds per step over all epochs, and over the epochs after each round's first."""
    steps, seconds = sum(x["steps"] for x in loops), sum(x["seconds"] for x in loops)
    later_steps = steps - sum(x["first_steps"] for x in loops)
    later_seconds = seconds - sum(x["first"] for x in loops)
    return seconds / steps, later_seconds / later_steps


def bench_step_overhead(
    api: httpx.Client, training: dict[str, Any], pairs_by_sample: dict[str, Pair]
) -> None:
    stratus = runner_loops(api, training)
    worker_threads = {int(x["threads"]) for x in stratus}
    bench_threads = torch.get_num_threads()
    (threads,) = worker_threads
    torch.set_num_threads(threads)
    parameters = training["additional_parameters"]
    config = TrainingConfig(
        learning_rate=float(parameters["learning_rate"]),
        batch_size=int(parameters["batch_size"]),
        num_epochs=int(parameters["num_epochs"]),
    )
    weights = weights_path(3).read_bytes()
    load_after_chain = os.getloadavg()[0]
    plain = [
        plain_loop(weights, [pairs_by_sample[s] for s in chain_round["sample_ids"]], config)
        for chain_round in training["rounds"]
    ]
    print(f"time per training step ({config}, {len(training['rounds'])} rounds):")
    print(f"  torch threads: worker {threads}; this process {bench_threads}, set to {threads}")
    print(SIDES)
    print(f"  1-min load average after the chain {load_after_chain:.2f}, after the plain loop "
          f"{os.getloadavg()[0]:.2f}")  # fmt: skip
    for name, index in (("all epochs (warm-up included)", 0), ("after each round's first epoch", 1)):
        ours, theirs = per_step(stratus)[index], per_step(plain)[index]
        print(f"  {name:<31}: Stratus {ours * 1000:6.1f} ms, plain {theirs * 1000:6.1f} ms → "
              f"overhead {(ours / theirs - 1) * 100:+5.1f}% (target ≤ 10%)")  # fmt: skip


def read_mask(api: httpx.Client, file_id: str) -> np.ndarray:
    response = api.get(f"/api/v0/files/{file_id}")
    response.raise_for_status()
    with h5py.File(io.BytesIO(response.content), "r") as handle:
        return np.asarray(handle["mask"][()])


def dice(predicted: np.ndarray, truth: np.ndarray) -> float:
    predicted, truth = predicted > 0, truth > 0
    total = int(predicted.sum() + truth.sum())
    return 1.0 if total == 0 else 2.0 * int((predicted & truth).sum()) / total


def bench_held_out_dice(api: httpx.Client, training: dict[str, Any], test: list[Pair]) -> None:
    body = {
        "algorithm_id": training["algorithm_id"],
        "input_dataset_ids": [upload(api, input_file(volume)) for volume, _ in test],
        "checkpoint_id": training["best_checkpoint_id"],
    }
    response = api.post("/api/v0/execute-algorithm", json=body)
    response.raise_for_status()
    record = wait_until(api, response.json()["execution_id"], TERMINAL, timeout=300)
    if record["status"] != "COMPLETED":
        raise RuntimeError(f"execution ended {record['status']}: {record['log'][-2000:]}")
    if len(record["output_dataset_ids"]) != len(test):
        raise RuntimeError(f"{len(record['output_dataset_ids'])} outputs for {len(test)} volumes: {record}")
    scores = [
        dice(read_mask(api, file_id), mask)
        for file_id, (_, mask) in zip(record["output_dataset_ids"], test, strict=True)
    ]
    best = api.get(f"/api/v0/checkpoint/{training['best_checkpoint_id']}").json()
    metrics = best["properties"]
    print(f"best checkpoint (round index {best['round']}, epoch {metrics['epoch']}, validation Dice "
          f"{metrics['dice']:.4f}) executed on {len(test)} held-out volumes:")  # fmt: skip
    print(f"  Dice mean {statistics.mean(scores):.4f} (target ≥ 0.9), min {min(scores):.4f}, "
          f"max {max(scores):.4f}")  # fmt: skip


def bench_execute(api: httpx.Client, api_url: str, posts: int) -> None:
    threshold = algorithm_id(api, "threshold")
    file_id = upload(api, hdf5_data((64, 64)))  # 16 KiB of float32
    for _ in range(3):
        wait_until(api, execute(api, threshold, file_id, threshold=0.5), TERMINAL)  # warm
    idle, loaded, running = [], [], []
    for _ in range(posts):
        start = time.perf_counter()
        execution_id = execute(api, threshold, file_id, threshold=0.5)
        idle.append(time.perf_counter() - start)
        wait_until(api, execution_id, TERMINAL)
    for _ in range(posts):
        start = time.perf_counter()
        running.append(execute(api, threshold, file_id, threshold=0.5))
        loaded.append(time.perf_counter() - start)
    for execution_id in running:
        wait_until(api, execution_id, TERMINAL)
    print(f"execute POST (threshold, 16 KiB READY file), {posts} sequential POSTs:")
    print(f"  each after the last one COMPLETED: p50 {percentile(idle, 50):.1f} ms, "
          f"p95 {percentile(idle, 95):.1f} ms (target p50 ≤ 25 ms; Compox 52–55 ms)")  # fmt: skip
    print(f"  back to back (earlier ones still running): p50 {percentile(loaded, 50):.1f} ms, "
          f"p95 {percentile(loaded, 95):.1f} ms")  # fmt: skip
    # A file of its own, as bench/e2e.py's burst: the one above was just held by 2 × `posts` executions.
    rate = bench_burst(api_url, threshold, upload(api, hdf5_data((64, 64), seed=1)))
    print(f"  → {rate:.1f} completions/s (issue 8 target ≥ 14/s; Compox 1.2–1.4/s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="4+1+4 volumes, 10 epochs a round, 20 execute POSTs"
    )
    args = parser.parse_args()
    counts = (4, 1, 4) if args.quick else (8, 2, 8)  # training, validation, held-out test pairs
    pairs = [make_pair(SEED, index) for index in range(sum(counts))]
    train, validation, test = pairs[: counts[0]], pairs[counts[0] : -counts[2]], pairs[-counts[2] :]
    print(f"1-min load average before the stack started: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    with running_local_stack(TEMPLATE) as stack, httpx.Client(base_url=stack.api_url, timeout=60) as api:
        # Executions first, on a fresh stack as bench/e2e.py measures them; the chain does not need one.
        bench_execute(api, stack.api_url, 20 if args.quick else 50)
        train_ids, validation_ids = upload_samples(api, train), upload_samples(api, validation)
        body = {
            "algorithm_id": algorithm_id(api, "unet_segmentation"),
            "training_data": train_ids,
            "validation_data": validation_ids,
            "rounds": ROUNDS,
            "selection": {"metric": "dice", "mode": "max"},
        }
        if args.quick:
            body["additional_parameters"] = {"num_epochs": 10}
        training, posted, seen = train_chain(api, body)
        report_chain(stack, training, posted, seen)
        bench_step_overhead(api, training, dict(zip(train_ids, train, strict=True)))
        bench_held_out_dice(api, training, test)


if __name__ == "__main__":
    main()
