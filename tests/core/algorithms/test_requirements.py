"""Declared dependencies: parsing and normalising PEP 508 strings, what needs an environment, and the
environment's content address."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from stratus.algorithms.requirements import (
    WORKER_PACKAGES,
    declared_requirements,
    environment_digest,
    environment_requirements,
    normalise,
    python_tag,
)
from stratus.errors import InvalidInputError

ROOT = Path(__file__).resolve().parents[3]
TAG = "cp311-linux_x86_64"


def _pyproject(dependencies: str) -> dict[str, bytes]:
    return {"pyproject.toml": f'[project]\nname = "p"\nversion = "1.0"\n{dependencies}\n'.encode()}


def test_normalise_spells_each_requirement_one_way() -> None:
    spelled = normalise(["Foo_Bar >=1.0, <2", "foo.bar<2,>=1.0", "Pkg[B,a] ; python_version >= '3.8'"])

    assert spelled == ["foo-bar<2,>=1.0", 'pkg[a,b]; python_version >= "3.8"']


def test_normalise_sorts() -> None:
    assert normalise(["zeta", "alpha==1"]) == ["alpha==1", "zeta"]


def test_normalise_refuses_an_unparsable_requirement_naming_it() -> None:
    with pytest.raises(InvalidInputError, match=r"'numpy>=>1' is not a PEP 508 requirement"):
        normalise(["scipy", "numpy>=>1"])


def test_normalise_refuses_a_direct_url() -> None:
    with pytest.raises(InvalidInputError, match="direct URL"):
        normalise(["evil @ https://example.com/evil-1.0.tar.gz"])


def test_normalise_refuses_too_many_requirements() -> None:
    with pytest.raises(InvalidInputError, match="the limit is 100"):
        normalise([f"package{i}" for i in range(101)])


def test_declared_requirements_of_a_package_without_dependencies_are_none() -> None:
    assert declared_requirements(_pyproject("")) == []


def test_declared_requirements_reads_project_dependencies() -> None:
    assert declared_requirements(_pyproject('dependencies = ["Requests>=2"]')) == ["requests>=2"]


def test_declared_requirements_refuses_a_string_instead_of_a_list() -> None:
    with pytest.raises(InvalidInputError, match="must be a list"):
        declared_requirements(_pyproject('dependencies = "requests"'))


def test_environment_requirements_drop_unversioned_worker_packages_and_compox() -> None:
    kept = environment_requirements(["compox>=1", "numpy", "requests", "torch"])

    assert kept == ["requests"]


def test_environment_requirements_keep_a_versioned_worker_package() -> None:
    assert environment_requirements(["numpy<2"]) == ["numpy<2"]


def test_environment_digest_is_the_same_for_the_same_set() -> None:
    first = environment_digest(normalise(["b", "A>=1"]), TAG)

    assert first == environment_digest(normalise(["a>=1", "B"]), TAG)


def test_environment_digest_differs_by_interpreter() -> None:
    assert environment_digest(["a"], TAG) != environment_digest(["a"], "cp312-linux_x86_64")


def test_environment_digest_differs_by_requirements() -> None:
    assert environment_digest(["a"], TAG) != environment_digest(["a==1"], TAG)


def test_python_tag_names_this_interpreter() -> None:
    assert re.fullmatch(r"cp3[0-9]+-[a-z0-9]+_[a-z0-9_]+", python_tag())


def test_worker_packages_are_installed_by_the_worker_image() -> None:
    installed = (ROOT / "gpu_worker" / "Dockerfile").read_text() + (
        ROOT / "layers" / "core" / "requirements.txt"
    ).read_text()

    missing = [name for name in WORKER_PACKAGES if not re.search(rf"(?im)(^|\s){name}([=\s]|$)", installed)]

    assert missing == []
