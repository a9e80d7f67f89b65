"""The local stack's zygote: it forks a confined algorithm process per job, reports how it ended, and
kills it when its worker goes away."""

from __future__ import annotations

import select
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from stratus.models.executions import ExecutionStatus
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.jobs import run_execution
from gpu_worker.sandbox.folders import temporary_job_folder
from gpu_worker.sandbox.host import open_sandbox
from gpu_worker.sandbox.launchers import launch_runner, runner_owner
from gpu_worker.sandbox.protocol import Channel, ChannelClosedError
from gpu_worker.sandbox.zygote import Zygote, ZygoteLauncher, start_zygote

TIMEOUT_S = 30


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    started = start_zygote()
    yield started
    started.stop()


def test_zygote_runs_a_job_in_a_process_it_forks(
    zygote: Zygote, stores: Stores, settings: Settings, upload, make_execution
) -> None:
    execution = make_execution([upload(data=np.full(2, 1.0))])

    with open_sandbox("execution", ZygoteLauncher(zygote.path)) as sandbox:
        final = run_execution(execution.execution_id, stores, settings, sandbox)

    assert final.status is ExecutionStatus.COMPLETED, final.log


def test_zygote_reports_how_the_process_ended(zygote: Zygote) -> None:
    with temporary_job_folder("execution", runner_owner()) as folder:
        process, ours = launch_runner(folder, ZygoteLauncher(zygote.path))
        channel = Channel(ours)
        assert channel.receive()["method"] == "start"  # confined, and asking for its job

        process.kill()

        assert process.poll() == -9


def test_zygote_kills_the_process_of_a_worker_that_went_away(zygote: Zygote) -> None:
    with temporary_job_folder("execution", runner_owner()) as folder:
        process, ours = launch_runner(folder, ZygoteLauncher(zygote.path))
        channel = Channel(ours)
        channel.receive()  # it waits for its job now

        _drop_connection(process)

        readable, _, _ = select.select([channel], [], [], TIMEOUT_S)
        assert readable, "the algorithm's process outlived its worker"
        with pytest.raises(ChannelClosedError):
            channel.receive()
        channel.close()


def _drop_connection(process: object) -> None:
    # What a worker's death does to its connection to the zygote: the kernel closes it.
    connection: socket.socket = process._conn  # type: ignore[attr-defined]
    connection.close()


def test_zygote_ends_when_its_lifeline_closes() -> None:
    started = start_zygote()

    started.stop()

    assert started.process.returncode == 0
    assert not Path(started.path).exists()
