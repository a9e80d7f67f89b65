"""The Batch image's Dockerfile, checked without Docker: it parses and names only what the repo has."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(path=str(ROOT / "gpu_worker" / "Dockerfile"))
    assert parser.structure, "the Dockerfile has no instructions"
    return parser


def _instructions(parser: DockerfileParser, name: str) -> list[str]:
    return [i["value"] for i in parser.structure if i["instruction"] == name]


def test_dockerfile_builds_on_cuda(dockerfile: DockerfileParser) -> None:
    assert dockerfile.baseimage.startswith("nvidia/cuda:")
    assert "cudnn-runtime" in dockerfile.baseimage


def test_dockerfile_copies_only_paths_that_exist(dockerfile: DockerfileParser) -> None:
    sources = [value.split()[0] for value in _instructions(dockerfile, "COPY")]

    assert sources
    assert all((ROOT / source).exists() for source in sources), sources


def test_dockerfile_runs_the_worker_as_root_so_algorithms_run_as_users_of_their_own(
    dockerfile: DockerfileParser,
) -> None:
    (entrypoint,) = _instructions(dockerfile, "ENTRYPOINT")
    (user,) = _instructions(dockerfile, "USER")

    assert json.loads(entrypoint) == ["python", "-m", "gpu_worker"]
    # Only root can switch users: the worker drops each algorithm to an unused id (gpu_worker/sandbox).
    assert user == "root"


def test_dockerfile_pins_the_torch_the_tests_use(dockerfile: DockerfileParser) -> None:
    installs = " ".join(_instructions(dockerfile, "RUN"))
    requirements = (ROOT / "requirements-dev.txt").read_text()

    assert "torch==2.13.0" in installs
    assert "torch==2.13.0" in requirements
