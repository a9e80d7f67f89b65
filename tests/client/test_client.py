"""The sync SDK against a real local stack: uploads (direct and multipart), downloads, runs, errors."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest
from stratus_client import Client, FileRejectedError, InvalidInputError, JobFailedError, NotFoundError

from tests.client.helpers import read_dataset, write_dataset, write_volume

pytestmark = pytest.mark.e2e
MIB = 1024 * 1024
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
REPOSITORY = Path(__file__).resolve().parents[2]
TRAINABLE = REPOSITORY / "tests" / "e2e" / "packages" / "trainable_threshold"


def test_upload_small_file_is_ready_and_downloads_the_same_bytes(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "small.h5"
    write_volume(source, (16, 16))

    info = client.upload(source)
    copy = client.download(info.file_id, tmp_path / "copy.h5")

    assert (info.status, info.size) == ("READY", source.stat().st_size)
    assert copy.read_bytes() == source.read_bytes()


def test_upload_multipart_sends_parts_then_downloads_the_same_bytes(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "large.h5"
    write_volume(source, (3 * MIB,))  # 12 MiB of float32: three 5 MiB parts, the last shorter
    (tmp_path / "out").mkdir()

    info = client.upload(source, part_size=5 * MIB)
    copy = client.download(info.file_id, tmp_path / "out")  # above 4 MiB: redirected to S3

    assert info.status == "READY"
    assert copy.name == f"{info.file_id}.h5"
    assert copy.read_bytes() == source.read_bytes()


def test_upload_of_a_file_that_is_not_hdf5_raises_rejected(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "fake.h5"
    source.write_bytes(b"\0" * (5 * MIB + 3))

    with pytest.raises(FileRejectedError) as raised:
        client.upload(source)

    assert raised.value.reason


def test_run_threshold_waits_follows_logs_and_outputs_the_thresholded_volume(
    client: Client, tmp_path: Path
) -> None:
    data = write_volume(tmp_path / "volume.h5", (8, 8))
    lines: list[str] = []

    execution = client.run("threshold", [tmp_path / "volume.h5"], {"threshold": 0.3}, logs=lines.append)
    output = client.download(execution.output_dataset_ids[0], tmp_path / "out.h5")

    assert execution.status == "COMPLETED"
    assert execution.additional_parameters == {"operation": "threshold", "threshold": 0.3}
    assert any("Execution completed" in line for line in lines)
    assert np.array_equal(read_dataset(output), (data > 0.3).astype(np.uint8))


def test_run_refuses_a_bad_parameter_before_sending(client: Client, tmp_path: Path) -> None:
    write_volume(tmp_path / "volume.h5", (4, 4))
    before = client.list_executions(limit=100).items

    with pytest.raises(InvalidInputError) as raised:
        client.run("threshold", [tmp_path / "volume.h5"], {"threshold": "high"})

    assert raised.value.parameter == "threshold"
    assert raised.value.status is None
    assert client.list_executions(limit=100).items == before


def test_run_raises_job_failed_with_the_jobs_error(client: Client, tmp_path: Path) -> None:
    write_volume(tmp_path / "volume.h5", (4, 4), key="image")  # threshold reads `data`: it fails

    with pytest.raises(JobFailedError) as raised:
        client.run("threshold", [tmp_path / "volume.h5"])

    assert raised.value.record.status == "FAILED"
    assert raised.value.error_type


def test_missing_ids_raise_not_found_with_the_apis_code(client: Client) -> None:
    with pytest.raises(NotFoundError) as raised:
        client.get_execution(UNKNOWN_ID)

    assert (raised.value.status, raised.value.code) == (404, "not_found")


def test_unknown_algorithm_name_raises_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError, match="no algorithm named 'nonexistent'"):
        client.get_algorithm("nonexistent")


def test_deploy_then_train_on_samples_saves_a_checkpoint(client: Client, tmp_path: Path) -> None:
    deployed = client.deploy_algorithm(TRAINABLE)
    image = write_volume(tmp_path / "image.h5", (8, 8), seed=1, key="image")
    write_dataset(tmp_path / "mask.h5", (image > 0.3).astype(np.uint8), key="mask")
    sample = client.create_sample([{"input": [tmp_path / "image.h5"], "target": [tmp_path / "mask.h5"]}])

    training = client.train(deployed.algorithm_id, [sample.sample_id], {"num_epochs": 1}, timeout=120)

    assert training.status == "COMPLETED"
    assert client.get_checkpoint(training.best_checkpoint_id or "").training_id == training.training_id


class DropsFirstPuts(httpx.BaseTransport):
    """The real transport, but the first ``count`` PUTs fail as a dropped connection would."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and self.left > 0:
            self.left -= 1
            raise httpx.ConnectError("connection reset (injected)", request=request)
        return self.real.handle_request(request)


def test_upload_retries_a_part_whose_put_failed(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "large.h5"
    write_volume(source, (3 * MIB,))
    flaky = DropsFirstPuts(2)
    client._storage = httpx.Client(transport=flaky)  # S3's side only: the API calls stay as they are

    info = client.upload(source, part_size=5 * MIB)

    assert flaky.left == 0 and info.status == "READY"
    assert client.download(info.file_id, tmp_path / "copy.h5").read_bytes() == source.read_bytes()
