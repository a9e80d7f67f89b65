"""Imported by the local worker fork server only (stratus.local.workers): the worker's modules, the SDK's
service models parsed, and the clients a job will ask for, so a forked job starts working at once
instead of parsing models (~150 ms) and making clients (~25 ms) again."""

from __future__ import annotations

import contextlib
import gc
import os
from typing import TYPE_CHECKING

from botocore.exceptions import NoRegionError

import gpu_worker.__main__  # noqa: F401  # the entry point
import gpu_worker.jobs  # noqa: F401  # torch, h5py, numpy, the core package (the entry point imports it late)
import gpu_worker.sandbox.host  # noqa: F401  # the worker's side of the algorithm's process
import gpu_worker.sandbox.zygote  # noqa: F401  # how a local job asks for its algorithm's process
from stratus import aws
from stratus.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Mapping


def _sdk_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The variables that decide how a client is made (endpoints, region, credentials); Batch's own
    AWS_BATCH_* variables, different for every job, do not."""
    return {
        name: value
        for name, value in environment.items()
        if name.startswith("AWS_") and not name.startswith("AWS_BATCH_")
    }


def _make_clients() -> None:
    # Parsed models stay in this process's session whatever the environment (any region does for that).
    session = aws.session()
    session.resource("dynamodb", config=aws.CONFIG, region_name="us-east-1")
    session.client("s3", config=aws.CONFIG, region_name="us-east-1")
    # The clients themselves fit jobs whose environment matches this one (the local stack's jobs). They
    # open no connection until a request, so forking copies no socket.
    with contextlib.suppress(NoRegionError):
        aws.resource("dynamodb")
        aws.s3_client()
    # pydantic-settings builds its sources on a class's first instance; the job's own comes next.
    Settings(table_name="preload", data_bucket="preload")


def fit_clients(environment: Mapping[str, str]) -> None:
    """In a job: forget the fork server's clients unless the job's environment is the one they were
    made for."""
    if _sdk_environment(environment) != _MADE_FOR:
        aws.client.cache_clear()
        aws.resource.cache_clear()
        aws.table.cache_clear()


_MADE_FOR = _sdk_environment(os.environ)
_make_clients()
# Everything so far outlives every job: out of the collector's reach, a job's first full collection does
# not walk (and copy, page by page) the fork server's whole heap, which cost ~300 ms per job.
gc.freeze()
