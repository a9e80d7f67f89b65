"""Algorithm registry use cases: deploy a Compox package, describe, list, export, remove."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
from typing import TYPE_CHECKING

from stratus.algorithms import AlgorithmConfig, PackageLimits, build_zip, parameter_schema, read_package
from stratus.errors import ForbiddenError, InvalidInputError
from stratus.models.algorithms import AlgorithmRecord, AlgorithmRegistered, AlgorithmVersionRecord
from stratus.stores.layout import asset_key, code_key

if TYPE_CHECKING:
    from stratus.algorithms import AlgorithmPackage
    from stratus.settings import Settings
    from stratus.stores import Stores


def package_limits(settings: Settings) -> PackageLimits:
    """Zip limits for a package sent in a request body."""
    return PackageLimits(max_zip_bytes=settings.max_direct_upload_bytes)


def deploy(data: bytes, stores: Stores, settings: Settings) -> AlgorithmVersionRecord:
    """Register a package zip as the next minor version of its name + major version.

    Re-deploying identical code and assets returns the current version (as Compox does).
    Raises InvalidInputError, PayloadTooLargeError, ConflictError.
    """
    package = read_package(data, package_limits(settings))
    code = build_zip(dataclasses.replace(package, assets={}))
    key = code_key(package.name, package.major_version, hashlib.sha256(code).hexdigest())
    current = stores.algorithms.find(package.name, package.major_version)
    if current is not None:
        latest = stores.algorithms.get_version(package.name, package.major_version, current.latest_minor)
        if latest.code_key == key and latest.assets == package.asset_hashes:
            return latest
    _store_content(package, code, key, stores)
    metadata = package.config.model_dump(mode="json")

    def make_version(algorithm_id: str, minor: int) -> AlgorithmVersionRecord:
        return AlgorithmVersionRecord(
            algorithm_id=algorithm_id,
            name=package.name,
            major=package.major_version,
            minor=minor,
            code_key=key,
            assets=package.asset_hashes,
            metadata=metadata,
            trainable=is_trainable(package),
            created_at=stores.clock(),
        )

    return stores.algorithms.register(package.name, package.major_version, metadata, make_version)


def is_trainable(package: AlgorithmPackage) -> bool:
    """Whether the package's Runner class defines train(): read once at deploy, so a training request
    for an algorithm that cannot train is refused up front."""
    source = package.code_files.get("Runner.py")
    if source is None:
        return False
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(
        isinstance(node, ast.ClassDef)
        and node.name == "Runner"
        and any(isinstance(item, ast.FunctionDef) and item.name == "train" for item in node.body)
        for node in tree.body
    )


def _store_content(package: AlgorithmPackage, code: bytes, key: str, stores: Stores) -> None:
    # Content-addressed, so a retried or racing deploy writes the same bytes to the same keys.
    for path, digest in package.asset_hashes.items():
        if not stores.objects.exists(asset_key(digest)):
            stores.objects.put(asset_key(digest), package.assets[path])
    stores.objects.put(key, code)


def describe(record: AlgorithmRecord) -> AlgorithmRegistered:
    """An algorithm as Compox clients expect it, with its parameters' JSON schema."""
    config = AlgorithmConfig.model_validate(record.metadata)
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
        removable=config.removable,
        exportable=config.exportable,
        parameter_schema=parameter_schema(config.additional_parameters),
    )


def list_algorithms(
    stores: Stores,
    positive_tags: list[str],
    negative_tags: list[str],
    algorithm_type: str | None,
    devices: list[str],
) -> list[AlgorithmRegistered]:
    """Algorithms with every positive tag, no negative tag, the type and all the devices asked for."""
    found = []
    for record in stores.algorithms.list_all():
        described = describe(record)
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
    """The package zip of one minor version (the latest by default).

    Raises NotFoundError, ForbiddenError (not exportable).
    """
    version = stores.algorithms.get_version(name, major, minor)
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


def remove(algorithm_id: str, minor: int | None, stores: Stores) -> None:
    """Delete one minor version, or the whole algorithm. Raises NotFoundError, ForbiddenError."""
    record = stores.algorithms.get_by_id(algorithm_id)
    if not AlgorithmConfig.model_validate(record.metadata).removable:
        raise ForbiddenError(f"algorithm {record.name} {record.major} is not removable")
    for each in [minor] if minor is not None else list(record.minors):
        stores.algorithms.remove_version(record.name, record.major, each)
