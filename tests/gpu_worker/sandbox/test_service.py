"""RunnerService: the worker checks each call of the algorithm before it does it, and never takes more
than a plain file of the outbox or gives more than a staged path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from stratus.errors import InvalidInputError, NotFoundError
from stratus.models.algorithms import AlgorithmVersionRecord
from stratus.models.files import FileStatus
from stratus.services.files import store_upload
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.context import ExecutionContext
from gpu_worker.sandbox.folders import JobFolder, create_job_folder
from gpu_worker.sandbox.service import MissingSessionItemError, RunnerService
from tests.gpu_worker.conftest import TENANT, hdf5_bytes, new_execution, read_dataset

JOB = {"kind": "execution", "input_ids": []}


@pytest.fixture
def folder(tmp_path: Path) -> JobFolder:
    root = tmp_path / "job"
    root.mkdir()
    return create_job_folder(root, None)


@pytest.fixture
def service(
    stores: Stores, settings: Settings, scale_version: AlgorithmVersionRecord, folder: JobFolder
) -> Iterator[RunnerService]:
    record = new_execution(stores, scale_version.algorithm_id, [], session_token="session-1")
    stores.executions.mark_started(record.execution_id)
    context = ExecutionContext(record, stores, settings, folder.package, "cpu")
    answering = RunnerService(context, folder, JOB)
    yield answering
    answering.close()


def test_service_stages_an_input_as_a_file_the_algorithm_reads(service: RunnerService, upload) -> None:
    file_id = upload(data=np.arange(3))

    path = Path(service.handle("read_data", {"file_id": file_id}))

    np.testing.assert_array_equal(read_dataset(path.read_bytes(), "data"), np.arange(3))


def test_service_refuses_another_tenants_input(
    service: RunnerService, stores: Stores, settings: Settings
) -> None:
    other = store_upload(hdf5_bytes(data=np.arange(3)), "someone-else", stores, settings)

    with pytest.raises(NotFoundError):
        service.handle("read_data", {"file_id": other.file_id})


def test_service_stores_an_outbox_file_as_a_ready_output(
    service: RunnerService, folder: JobFolder, stores: Stores
) -> None:
    (folder.outbox / "out.h5").write_bytes(hdf5_bytes(data=np.ones(2)))

    file_id = service.handle("write_data", {"name": "out.h5"})

    assert stores.files.get(file_id, TENANT).status is FileStatus.READY
    assert not (folder.outbox / "out.h5").exists()


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("no_such_call", {}),
        ("write_data", {"name": "../package/Runner.py"}),
        ("set_progress", {"progress": True}),
        ("set_progress", {"progress": 1.5}),
        ("log", {"level": "LOUD", "message": "x"}),
        ("read_samples", {"sample_ids": "sample-1"}),
        ("set_state", {"state": ["not", "a", "dict"]}),
    ],
)
def test_service_refuses_a_call_it_cannot_check(service: RunnerService, method: str, params: dict) -> None:
    with pytest.raises(InvalidInputError):
        service.handle(method, params)


def test_service_hands_session_items_over_as_files_it_never_unpickles(
    service: RunnerService, folder: JobFolder
) -> None:
    pickled = b"\x80\x05not really a pickle"  # the worker stores and returns bytes as they are
    (folder.outbox / "item.pickle").write_bytes(pickled)
    service.handle("session_put", {"key": "cache", "name": "item.pickle"})

    path = Path(service.handle("session_get", {"key": "cache"}))

    assert path.read_bytes() == pickled and path.parent == folder.inbox


def test_service_reports_a_missing_session_item(service: RunnerService) -> None:
    with pytest.raises(MissingSessionItemError):
        service.handle("session_get", {"key": "absent"})
