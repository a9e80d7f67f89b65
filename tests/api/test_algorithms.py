"""Algorithm registry API: deploy Compox packages, list, describe, export, remove, bad packages."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from fastapi.testclient import TestClient
from stratus.algorithms import package_from_folder
from stratus.models.algorithms import BUILTIN_OWNER
from stratus.models.executions import ExecutionCreate
from stratus.models.jobs import TaskFailure
from stratus.services import algorithms, executions, files, launch
from stratus.settings import Settings
from stratus.stores import Stores

from gpu_worker.builtins import builtin_zip
from tests.conftest import make_hdf5
from tests.core.services.test_jobs import FakeMachine

PACKAGES = Path(__file__).resolve().parents[1] / "core" / "algorithms" / "packages"
ZIP = {"content-type": "application/zip"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


def _files(folder: str) -> dict[str, bytes]:
    root = PACKAGES / folder
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _with_pyproject(folder: str, old: str, new: str) -> bytes:
    files = _files(folder)
    files["pyproject.toml"] = files["pyproject.toml"].replace(old.encode(), new.encode())
    return _zip(files)


def _deploy(client: TestClient, body: bytes, path: str = "/api/v0/algorithms") -> dict[str, str]:
    response = client.post(path, content=body, headers=ZIP)
    assert response.status_code == 201, response.text
    deployed: dict[str, str] = response.json()
    return deployed


@pytest.fixture
def scale_zip() -> bytes:
    return package_from_folder(PACKAGES / "compox_scale")


def test_deploy_registers_compox_package(client: TestClient, scale_zip: bytes) -> None:
    deployed = _deploy(client, scale_zip)

    described = client.get("/api/v0/algorithm/compox_scale/2").json()
    assert deployed["algorithm_name"] == "compox_scale"
    assert (deployed["algorithm_major_version"], deployed["algorithm_minor_version"]) == ("2", "0")
    assert described["algorithm_id"] == deployed["algorithm_id"]
    assert described["algorithm_tags"] == ["scaling", "test"]
    assert described["supported_devices"] == ["cpu", "gpu"]
    assert [p["name"] for p in described["additional_parameters"]] == [
        "factor",
        "mode",
        "iterations",
        "verbose",
        "label",
    ]
    assert described["parameter_schema"]["properties"]["factor"]["maximum"] == 10.0


def test_deploy_through_compox_style_path(client: TestClient, scale_zip: bytes) -> None:
    assert _deploy(client, scale_zip, "/api/v0/deploy")["algorithm_minor_version"] == "0"


def test_redeploy_identical_package_keeps_version(client: TestClient, scale_zip: bytes) -> None:
    first = _deploy(client, scale_zip)

    again = _deploy(client, scale_zip)

    assert again == first
    assert client.get("/api/v0/algorithm/compox_scale/2").json()["algorithm_minor_versions"] == ["0"]


def test_redeploy_changed_package_adds_minor_and_updates_metadata(
    client: TestClient, scale_zip: bytes
) -> None:
    _deploy(client, scale_zip)

    changed = _deploy(
        client, _with_pyproject("compox_scale", 'tags = ["scaling", "test"]', 'tags = ["scaling", "v2"]')
    )

    described = client.get("/api/v0/algorithm/compox_scale/2").json()
    assert changed["algorithm_minor_version"] == "1"
    assert described["algorithm_minor_versions"] == ["0", "1"]
    assert described["latest_algorithm_minor_version"] == "1"
    assert described["algorithm_tags"] == ["scaling", "v2"]


def test_assets_are_stored_once_per_content(client: TestClient, scale_zip: bytes, settings: Settings) -> None:
    _deploy(client, scale_zip)
    _deploy(client, _with_pyproject("compox_scale", "label", "name_label"))

    listed = boto3.client("s3").list_objects_v2(Bucket=settings.data_bucket, Prefix="assets/")

    assert listed["KeyCount"] == 1


def test_list_filters_by_tags_type_and_device(client: TestClient, scale_zip: bytes) -> None:
    _deploy(client, scale_zip)
    _deploy(client, package_from_folder(PACKAGES / "compox_other"))

    def names(**params: object) -> list[str]:
        return [a["algorithm_name"] for a in client.get("/api/v0/algorithm/all", params=params).json()]

    assert names() == ["compox_other", "compox_scale"]
    assert names(positive_tag="scaling") == ["compox_scale"]
    assert names(negative_tag="scaling") == ["compox_other"]
    assert names(supported_devices="gpu") == ["compox_scale"]
    assert names(positive_tag="nothing-has-this") == []


def test_list_is_empty_not_404(client: TestClient) -> None:
    response = client.get("/api/v0/algorithm/all")

    assert (response.status_code, response.json()) == (200, [])


def test_unknown_algorithm_is_404(client: TestClient) -> None:
    assert client.get("/api/v0/algorithm/nothing/1").json()["code"] == "not_found"


def test_get_by_id_answers_as_by_name_and_major(
    client: TestClient, scale_zip: bytes, builtin_id: str
) -> None:
    mine = _deploy(client, scale_zip)

    by_id = client.get(f"/api/v0/algorithm/{mine['algorithm_id']}")
    builtin = client.get(f"/api/v0/algorithm/{builtin_id}")

    assert by_id.status_code == 200
    assert by_id.json() == client.get("/api/v0/algorithm/compox_scale/2").json()
    assert builtin.json()["algorithm_name"] == "threshold" and builtin.json()["builtin"] is True
    assert client.get("/api/v0/algorithm/all").status_code == 200  # not taken for an id


def test_export_round_trips_to_the_same_version(client: TestClient, scale_zip: bytes) -> None:
    deployed = _deploy(client, scale_zip)

    exported = client.get("/api/v0/algorithm/compox_scale/2/export", params={"algorithm_minor_version": 0})
    redeployed = _deploy(client, exported.content)

    assert exported.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(exported.content)) as archive:
        assert archive.read("files/offset.txt") == _files("compox_scale")["files/offset.txt"]
        assert archive.read("Runner.py") == _files("compox_scale")["Runner.py"]
    assert redeployed == deployed


def test_export_refuses_non_exportable_algorithm(client: TestClient) -> None:
    _deploy(client, _with_pyproject("compox_scale", "exportable = true", "exportable = false"))

    response = client.get("/api/v0/algorithm/compox_scale/2/export")

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")


def test_export_unknown_minor_or_checkpoint_is_404(client: TestClient, scale_zip: bytes) -> None:
    _deploy(client, scale_zip)

    assert (
        client.get(
            "/api/v0/algorithm/compox_scale/2/export", params={"algorithm_minor_version": 9}
        ).status_code
        == 404
    )
    assert (
        client.get(
            "/api/v0/algorithm/compox_scale/2/export", params={"checkpoint_id": UNKNOWN_ID}
        ).status_code
        == 404
    )


def test_remove_one_minor_keeps_the_other(client: TestClient, scale_zip: bytes) -> None:
    first = _deploy(client, scale_zip)
    _deploy(client, _with_pyproject("compox_scale", "label", "name_label"))

    removed = client.delete(
        f"/api/v0/deploy/algorithm/{first['algorithm_id']}", params={"algorithm_minor_version": 1}
    )

    assert removed.status_code == 200
    described = client.get("/api/v0/algorithm/compox_scale/2").json()
    assert described["algorithm_minor_versions"] == ["0"]
    assert (
        client.get(
            "/api/v0/algorithm/compox_scale/2/export", params={"algorithm_minor_version": 0}
        ).status_code
        == 200
    )


def test_remove_whole_algorithm(client: TestClient, scale_zip: bytes) -> None:
    deployed = _deploy(client, scale_zip)

    client.delete(f"/api/v0/deploy/algorithm/{deployed['algorithm_id']}")

    assert client.get("/api/v0/algorithm/compox_scale/2").status_code == 404


def test_remove_refuses_non_removable_algorithm(client: TestClient) -> None:
    deployed = _deploy(client, _with_pyproject("compox_scale", "removable = true", "removable = false"))

    response = client.delete(f"/api/v0/deploy/algorithm/{deployed['algorithm_id']}")

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert client.get("/api/v0/algorithm/compox_scale/2").status_code == 200


def _with_runner(folder: str, runner: bytes) -> bytes:
    return _zip({**_files(folder), "Runner.py": runner})


def _zip_slip() -> bytes:
    files = _files("compox_scale")
    files["../../evil.py"] = b"x = 1\n"
    return _zip(files)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"not a zip", "zip"),
        (_zip({"Runner.py": b"x = 1\n"}), "pyproject.toml"),
        (_zip_slip(), ".."),
        (
            _with_pyproject("compox_scale", "max = 10.0", "max = -1.0"),
            "tool.compox.additional_parameters[0].config",
        ),
        (_with_pyproject("compox_scale", 'version = "2.3.0"', 'version = "two"'), "project.version"),
        (_with_runner("compox_scale", b"class Scale:\n    pass\n"), "class Runner"),
    ],
    ids=["not-zip", "no-pyproject", "zip-slip", "bad-parameter", "bad-version", "no-runner-class"],
)
def test_bad_package_is_422_naming_the_problem(client: TestClient, body: bytes, fragment: str) -> None:
    response = client.post("/api/v0/algorithms", content=body, headers=ZIP)

    assert response.status_code == 422, response.text
    assert fragment in response.json()["detail"]
    assert client.get("/api/v0/algorithm/all").json() == []


def test_package_over_limit_is_413(client: TestClient, settings: Settings) -> None:
    response = client.post(
        "/api/v0/algorithms", content=b"\0" * (settings.max_direct_upload_bytes + 1), headers=ZIP
    )

    assert response.status_code == 413


def test_package_with_wrong_content_type_is_415(client: TestClient, scale_zip: bytes) -> None:
    response = client.post(
        "/api/v0/algorithms", content=scale_zip, headers={"content-type": "application/json"}
    )

    assert response.status_code == 415


# --- Tenants: built-ins are shared and read-only, uploads are the uploading tenant's own ---------------


@pytest.fixture
def builtin_id(stores: Stores, settings: Settings) -> str:
    """The built-in threshold, deployed as the operator does."""
    return algorithms.deploy(builtin_zip("threshold"), BUILTIN_OWNER, stores, settings).algorithm_id


def test_two_tenants_deploying_one_name_get_their_own_algorithms(
    client: TestClient, client_for: Callable[[str], TestClient], scale_zip: bytes
) -> None:
    acme = client_for("acme")

    mine, theirs = _deploy(client, scale_zip), _deploy(acme, scale_zip)

    assert mine["algorithm_id"] != theirs["algorithm_id"]
    assert (mine["algorithm_minor_version"], theirs["algorithm_minor_version"]) == ("0", "0")
    assert client.get("/api/v0/algorithm/compox_scale/2").json()["algorithm_id"] == mine["algorithm_id"]
    assert acme.get("/api/v0/algorithm/compox_scale/2").json()["algorithm_id"] == theirs["algorithm_id"]


def test_another_tenants_algorithm_is_invisible_and_404(
    client: TestClient, client_for: Callable[[str], TestClient], scale_zip: bytes
) -> None:
    theirs = _deploy(client_for("acme"), scale_zip)

    assert client.get("/api/v0/algorithm/all").json() == []
    for response in (
        client.get("/api/v0/algorithm/compox_scale/2"),
        client.get("/api/v0/algorithm/compox_scale/2/export"),
        client.get(f"/api/v0/algorithm/{theirs['algorithm_id']}"),
        client.delete(f"/api/v0/deploy/algorithm/{theirs['algorithm_id']}"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert client_for("acme").get("/api/v0/algorithm/compox_scale/2").status_code == 200


def test_list_shows_builtins_and_own_algorithms_marked(
    client: TestClient, builtin_id: str, scale_zip: bytes
) -> None:
    _deploy(client, scale_zip)

    listed = {a["algorithm_name"]: a for a in client.get("/api/v0/algorithm/all").json()}

    assert {name: a["builtin"] for name, a in listed.items()} == {"compox_scale": False, "threshold": True}
    assert listed["threshold"]["algorithm_id"] == builtin_id
    assert listed["threshold"]["removable"] is False


def test_deploy_under_a_builtins_name_makes_the_tenants_own(
    client: TestClient, client_for: Callable[[str], TestClient], builtin_id: str
) -> None:
    own = _deploy(client, builtin_zip("threshold"))

    mine = client.get("/api/v0/algorithm/threshold/1").json()
    shared = client_for("acme").get("/api/v0/algorithm/threshold/1").json()
    assert own["algorithm_id"] != builtin_id
    assert own["algorithm_minor_version"] == "0"
    assert (mine["algorithm_id"], mine["builtin"]) == (own["algorithm_id"], False)
    assert (shared["algorithm_id"], shared["builtin"], shared["algorithm_minor_versions"]) == (
        builtin_id,
        True,
        ["0"],
    )


def test_remove_builtin_is_403_and_keeps_it(client: TestClient, builtin_id: str) -> None:
    response = client.delete(f"/api/v0/deploy/algorithm/{builtin_id}")

    assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert client.get("/api/v0/algorithm/threshold/1").json()["algorithm_id"] == builtin_id


def test_export_of_an_exportable_builtin_works_for_any_tenant(
    client_for: Callable[[str], TestClient], builtin_id: str
) -> None:
    response = client_for("acme").get("/api/v0/algorithm/threshold/1/export")

    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert "Runner.py" in archive.namelist()


def test_remove_version_a_pending_execution_runs_is_409_until_it_ends(
    client: TestClient, stores: Stores, settings: Settings, scale_zip: bytes
) -> None:
    deployed = _deploy(client, scale_zip)
    input_id = files.store_ready(make_hdf5(), "local", stores, settings).file_id
    request = ExecutionCreate(algorithm_id=deployed["algorithm_id"], input_dataset_ids=[input_id])
    execution_id = launch.execute(request, "local", stores, FakeMachine())
    path = f"/api/v0/deploy/algorithm/{deployed['algorithm_id']}"

    refused = client.delete(path, params={"algorithm_minor_version": 0})
    executions.mark_failed(execution_id, TaskFailure(Error="States.TaskFailed", Cause="test"), stores)
    accepted = client.delete(path, params={"algorithm_minor_version": 0})

    assert (refused.status_code, refused.json()["code"]) == (409, "algorithm_in_use")
    assert execution_id in refused.json()["detail"]
    assert accepted.status_code == 200
    assert client.get("/api/v0/algorithm/compox_scale/2").status_code == 404
