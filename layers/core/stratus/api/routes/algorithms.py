"""Algorithm registry API (Compox's /algorithm and /deploy routes, with the zip sent as the body)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from stratus.api.bodies import ZipBody, binary_body
from stratus.api.deps import BuildQueueDep, CallerDep, SettingsDep, StoresDep
from stratus.models.algorithms import ALGORITHM_NAME_PATTERN, AlgorithmDeployed, AlgorithmRegistered
from stratus.models.files import Deleted
from stratus.models.ids import AlgorithmId, CheckpointId
from stratus.services import algorithms as service

router = APIRouter(tags=["algorithms"])

NamePath = Annotated[str, Path(pattern=ALGORITHM_NAME_PATTERN, description="The package's [project] name")]
MajorPath = Annotated[int, Path(ge=0, description="Major version")]
MinorQuery = Annotated[int | None, Query(ge=0, description="Minor version (default: the latest)")]
ZIP_BODY = binary_body("application/zip", "application/octet-stream")
ERRORS = {
    403: {"description": "The algorithm is not exportable / not removable / a built-in (read-only)"},
    404: {"description": "Unknown algorithm (or another tenant's), minor version or checkpoint"},
    409: {"description": "A concurrent deploy won (retry); deleting a version a job that has not ended runs"},
    413: {"description": "Package over the size limits"},
    415: {"description": "Body is not a zip"},
}


@router.post(
    "/algorithms",
    status_code=201,
    summary="Deploy a Compox package (zip as the body)",
    openapi_extra=ZIP_BODY,
    responses={k: ERRORS[k] for k in (409, 413, 415)},
)
def deploy_algorithm(
    body: ZipBody, caller: CallerDep, stores: StoresDep, settings: SettingsDep, builds: BuildQueueDep
) -> AlgorithmDeployed:
    """Validate the package and register it as the next minor version of the caller's algorithm of its
    name + major version (the caller's own: a built-in of the same name stays as it is). A package that
    declares `[project].dependencies` reads `BUILDING` until its environment is built (`READY`), or
    `FAILED` with pip's message; an unparsable requirement is a 422 and nothing is stored."""
    version = service.deploy(body, caller.tenant, stores, settings, builds)
    return AlgorithmDeployed(
        algorithm_id=version.algorithm_id,
        algorithm_name=version.name,
        algorithm_major_version=str(version.major),
        algorithm_minor_version=str(version.minor),
        status=service.version_status(version, stores),
    )


# Compox's clients deploy through /deploy; same behaviour, the zip sent instead of a server path.
router.add_api_route(
    "/deploy",
    deploy_algorithm,
    methods=["POST"],
    status_code=201,
    summary="Deploy a Compox package (Compox-style path)",
    openapi_extra=ZIP_BODY,
    responses={k: ERRORS[k] for k in (409, 413, 415)},
)


@router.get("/algorithm/all", summary="List algorithms")
def list_algorithms(
    caller: CallerDep,
    stores: StoresDep,
    positive_tag: Annotated[list[str], Query()] = [],  # noqa: B006  # FastAPI copies query defaults
    negative_tag: Annotated[list[str], Query()] = [],  # noqa: B006
    algorithm_type: str | None = None,
    supported_devices: Annotated[list[str], Query()] = [],  # noqa: B006
) -> list[AlgorithmRegistered]:
    """The built-ins and the caller's own algorithms (`builtin` tells which) with every `positive_tag`,
    no `negative_tag`, and all `supported_devices` asked for."""
    return service.list_algorithms(
        caller.tenant, stores, positive_tag, negative_tag, algorithm_type, supported_devices
    )


@router.get("/algorithm/{algorithm_id}", summary="An algorithm by its id", responses={404: ERRORS[404]})
def get_algorithm_by_id(
    algorithm_id: Annotated[AlgorithmId, Path()], caller: CallerDep, stores: StoresDep
) -> AlgorithmRegistered:
    """The algorithm an `algorithm_id` names (a built-in or the caller's own), as
    `/algorithm/{name}/{major}` answers it."""
    return service.describe(service.get_by_id(algorithm_id, caller.tenant, stores), stores)


@router.get(
    "/algorithm/{name}/{major}", summary="An algorithm and its parameter schema", responses={404: ERRORS[404]}
)
def get_algorithm(
    name: NamePath, major: MajorPath, caller: CallerDep, stores: StoresDep
) -> AlgorithmRegistered:
    """The caller's own algorithm of this name, else the built-in: its id, minor versions and what its
    newest minor version advertises."""
    return service.describe(stores.algorithms.resolve(name, major, caller.tenant), stores)


@router.get(
    "/algorithm/{name}/{major}/export",
    summary="Export a package zip",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}, **{k: ERRORS[k] for k in (403, 404)}},
)
def export_algorithm(
    name: NamePath,
    major: MajorPath,
    stores: StoresDep,
    caller: CallerDep,
    algorithm_minor_version: MinorQuery = None,
    checkpoint_id: Annotated[CheckpointId | None, Query()] = None,
) -> Response:
    """The deployable package (Runner.py, pyproject.toml, assets) of one minor version of the caller's
    own algorithm of this name, else the built-in; with a checkpoint, its trained assets in place of the
    algorithm's."""
    data = service.export(name, major, algorithm_minor_version, checkpoint_id, caller.tenant, stores)
    minor = algorithm_minor_version if algorithm_minor_version is not None else "latest"
    trained = f"-checkpoint-{checkpoint_id}" if checkpoint_id else ""
    filename = f"{name}-{major}.{minor}{trained}.zip"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.delete(
    "/deploy/algorithm/{algorithm_id}",
    summary="Remove a removable algorithm of the caller's (or one minor version)",
    responses={k: ERRORS[k] for k in (403, 404, 409)},
)
def remove_algorithm(
    algorithm_id: Annotated[AlgorithmId, Path()],
    caller: CallerDep,
    stores: StoresDep,
    algorithm_minor_version: MinorQuery = None,
) -> Deleted:
    """Delete one minor version, or every version; other minor versions keep working. A built-in is a
    403; a version that a job which has not ended runs is a 409 `algorithm_in_use`."""
    service.remove(algorithm_id, algorithm_minor_version, caller.tenant, stores)
    return Deleted(detail="Algorithm deleted successfully")
