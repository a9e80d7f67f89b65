"""Algorithm registry use cases: deploy a Compox package, describe, list, export, remove."""

from __future__ import annotations

import dataclasses
import hashlib
from typing import TYPE_CHECKING

from stratus.algorithms import AlgorithmConfig, PackageLimits, build_zip, parameter_schema, read_package
from stratus.algorithms.requirements import declared_requirements, environment_requirements, python_tag
from stratus.errors import ForbiddenError, InvalidInputError
from stratus.models.algorithms import (
    AlgorithmRecord,
    AlgorithmRegistered,
    AlgorithmVersionRecord,
    is_builtin,
)
from stratus.models.environments import EnvironmentStatus
from stratus.services import environments, holds
from stratus.stores.layout import asset_key, code_key

if TYPE_CHECKING:
    from collections.abc import Mapping

    from stratus.algorithms import AlgorithmPackage
    from stratus.models.environments import EnvironmentRecord
    from stratus.settings import Settings
    from stratus.stores import BuildQueue, Stores


def package_limits(settings: Settings) -> PackageLimits:
    """Zip limits for a package sent in a request body."""
    return PackageLimits(max_zip_bytes=settings.max_direct_upload_bytes)


def deploy(
    data: bytes, owner: str, stores: Stores, settings: Settings, builds: BuildQueue | None = None
) -> AlgorithmVersionRecord:
    """Register a package zip as the next minor version of ``owner``'s algorithm of its name + major
    version. ``owner`` is the calling tenant (its own namespace: another tenant's or a built-in of the
    same name is another algorithm), or BUILTIN_OWNER when the operator deploys the built-ins.

    Re-deploying identical code and assets returns the current version (as Compox does). Declared
    `[project].dependencies` get an environment, built through ``builds`` unless built or building (a
    failed build is retried, also by an identical re-deploy).
    Raises InvalidInputError, PayloadTooLargeError, ConflictError.
    """
    package = read_package(data, package_limits(settings))
    requirements = environment_requirements(declared_requirements(package.code_files))
    tag = settings.worker_python_tag or python_tag()
    digest = environments.ensure(requirements, tag, owner, stores, builds)
    code = build_zip(dataclasses.replace(package, assets={}))
    key = code_key(owner, package.name, package.major_version, hashlib.sha256(code).hexdigest())
    current = stores.algorithms.find(owner, package.name, package.major_version)
    if current is not None:
        latest = stores.algorithms.get_version_by_id(current.algorithm_id, owner, current.latest_minor)
        if latest.code_key == key and latest.assets == package.asset_hashes:
            return latest
    _store_content(package, code, key, stores)
    metadata = package.config.model_dump(mode="json")

    def make_version(algorithm_id: str, minor: int) -> AlgorithmVersionRecord:
        return AlgorithmVersionRecord(
            algorithm_id=algorithm_id,
            owner=owner,
            name=package.name,
            major=package.major_version,
            minor=minor,
            code_key=key,
            assets=package.asset_hashes,
            metadata=metadata,
            # Read once at deploy, so a training request for one that cannot train is refused up front.
            trainable=package.trainable,
            requirements=requirements,
            environment=digest,
            created_at=stores.clock(),
        )

    return stores.algorithms.register(owner, package.name, package.major_version, metadata, make_version)


def _store_content(package: AlgorithmPackage, code: bytes, key: str, stores: Stores) -> None:
    # Content-addressed, so a retried or racing deploy writes the same bytes to the same keys.
    for path, digest in package.asset_hashes.items():
        if not stores.objects.exists(asset_key(digest)):
            stores.objects.put(asset_key(digest), package.assets[path])
    stores.objects.put(key, code)


def describe(record: AlgorithmRecord, stores: Stores) -> AlgorithmRegistered:
    """An algorithm as Compox clients expect it, with its parameters' JSON schema; whether it is a
    built-in (a built-in is never removable by a tenant, whatever its package says); its newest minor
    version's status (its environment's)."""
    return _described(record, environments.statuses([record.environment], stores))


def _described(record: AlgorithmRecord, found: Mapping[str, EnvironmentRecord]) -> AlgorithmRegistered:
    config = AlgorithmConfig.model_validate(record.metadata)
    environment = found.get(record.environment) if record.environment else None
    builtin = is_builtin(record.owner)
    latest = str(record.latest_minor)
    return AlgorithmRegistered(
        algorithm_id=record.algorithm_id,
        algorithm_name=record.name,
        algorithm_version=str(record.major),
        algorithm_minor_versions=[str(m) for m in record.minors],
        latest_algorithm_minor_version=latest,
        algorithm_minor_version=latest,
        algorithm_type=config.algorithm_type,
        algorithm_tags=config.tags,
        algorithm_description=config.description,
        supported_devices=list(config.supported_devices),
        default_device=config.default_device,
        additional_parameters=[p.model_dump(mode="json") for p in config.additional_parameters],
        training_parameters=[p.model_dump(mode="json") for p in config.training_parameters],
        removable=config.removable and not builtin,
        exportable=config.exportable,
        builtin=builtin,
        parameter_schema=parameter_schema(config.additional_parameters),
        requirements=environment.requirements if environment else [],
        # A digest whose record is not there yet is being created by its deploy: BUILDING, as jobs see it.
        status=environment.status if environment else _status_without(record.environment),
        error=environment.error if environment else None,
    )


def _status_without(digest: str | None) -> EnvironmentStatus:
    return EnvironmentStatus.BUILDING if digest else EnvironmentStatus.READY


def version_status(version: AlgorithmVersionRecord, stores: Stores) -> EnvironmentStatus:
    """A version's status: its environment's (READY when it declares no dependencies)."""
    found = environments.statuses([version.environment], stores)
    environment = found.get(version.environment) if version.environment else None
    return environment.status if environment else _status_without(version.environment)


def get_by_id(algorithm_id: str, tenant: str, stores: Stores) -> AlgorithmRecord:
    """The algorithm with this id: a built-in or ``tenant``'s own (another tenant's is not found).

    Raises NotFoundError.
    """
    version = stores.algorithms.get_version_by_id(algorithm_id, tenant)
    return stores.algorithms.get(version.owner, version.name, version.major)


def list_algorithms(
    tenant: str,
    stores: Stores,
    positive_tags: list[str],
    negative_tags: list[str],
    algorithm_type: str | None,
    devices: list[str],
) -> list[AlgorithmRegistered]:
    """The built-ins and ``tenant``'s own algorithms with every positive tag, no negative tag, the type
    and all the devices asked for."""
    found = []
    records = stores.algorithms.list_visible(tenant)
    statuses = environments.statuses([record.environment for record in records], stores)
    for record in records:
        described = _described(record, statuses)
        tags = set(described.algorithm_tags)
        if not set(positive_tags) <= tags or tags & set(negative_tags):
            continue
        if algorithm_type and described.algorithm_type != algorithm_type:
            continue
        if not set(devices) <= set(described.supported_devices):
            continue
        found.append(described)
    return found


def export(
    name: str, major: int, minor: int | None, checkpoint_id: str | None, tenant: str, stores: Stores
) -> bytes:
    """The package zip of one minor version (the latest by default) of the algorithm ``tenant`` means by
    name: its own, else the built-in.

    Raises NotFoundError, ForbiddenError (not exportable), InvalidInputError (another's checkpoint).
    """
    record = stores.algorithms.resolve(name, major, tenant)
    version = stores.algorithms.get_version_by_id(record.algorithm_id, tenant, minor)
    if not AlgorithmConfig.model_validate(version.metadata).exportable:
        raise ForbiddenError(f"algorithm {name} {major} is not exportable")
    digests = dict(version.assets)
    if checkpoint_id is not None:
        checkpoint = stores.checkpoints.get(checkpoint_id, tenant)
        if checkpoint.parent_algorithm_id != version.algorithm_id:
            raise InvalidInputError(f"checkpoint {checkpoint_id} is not a checkpoint of {name} {major}")
        digests.update(checkpoint.assets)
    code = read_package(stores.objects.get(version.code_key), PackageLimits())
    assets = {path: stores.objects.get(asset_key(digest)) for path, digest in digests.items()}
    return build_zip(dataclasses.replace(code, assets=assets))


def remove(algorithm_id: str, minor: int | None, tenant: str, stores: Stores) -> None:
    """Delete one minor version, or the whole algorithm, of ``tenant``'s own.

    Raises NotFoundError (unknown, or another tenant's), ForbiddenError (a built-in, or not removable),
    AlgorithmInUseError (a job that has not ended runs a version), ConflictError (a concurrent change).
    """
    record = stores.algorithms.get_by_id(algorithm_id, tenant)
    if is_builtin(record.owner):
        raise ForbiddenError(
            f"algorithm {record.name} {record.major} is a built-in: shared by every tenant and read-only"
        )
    if not AlgorithmConfig.model_validate(record.metadata).removable:
        raise ForbiddenError(f"algorithm {record.name} {record.major} is not removable")
    minors = [minor] if minor is not None else list(record.minors)
    # Holds whose release was lost (a job that ended without releasing) must not block the delete; the
    # delete itself is conditional on no holder, so a job accepted meanwhile still refuses it.
    holds.release_ended_version_holders(record.algorithm_id, minors, stores)
    stores.algorithms.remove_versions(record, minors)
