"""Loading packages in isolated namespaces and running them through Compox's hook order."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

import numpy as np
import pytest
from stratus.algorithms import (
    AlgorithmPackage,
    BaseRunner,
    load_runner,
    unload_runner,
    validate_parameters,
)
from stratus.errors import InvalidInputError

from .conftest import MemoryContext


def plain_names() -> set[str]:
    return {name for name in sys.modules if name.split(".")[0] in {"helpers", "Runner", "compox"}}


def namespaced(runner: BaseRunner) -> set[str]:
    prefix = type(runner).__module__.split(".")[0]
    return {name for name in sys.modules if name.split(".")[0] == prefix}


@pytest.fixture
def scale_context(memory_context: MemoryContext, scale_package: AlgorithmPackage) -> MemoryContext:
    memory_context.assets = dict(scale_package.assets)
    return memory_context


def test_load_runner_runs_compox_package_end_to_end(
    scale_dir: Path, scale_context: MemoryContext, scale_package: AlgorithmPackage
) -> None:
    inputs = [scale_context.add_file(data=np.full((2, 3), i, dtype=np.float32)) for i in range(2)]
    args = validate_parameters(scale_package.config.additional_parameters, {"factor": 3.0, "iterations": 2})
    runner = load_runner(scale_dir, scale_context, "cpu")

    output_ids = runner.run({"input_dataset_ids": inputs}, args)

    assert output_ids == scale_context.outputs
    for i, output_id in enumerate(output_ids):
        np.testing.assert_allclose(scale_context.read_output(output_id, "data"), np.full((2, 3), i * 9 + 1.5))
    assert scale_context.running
    assert scale_context.progress == [0.5]
    messages = [message for _, message in scale_context.logs]
    assert messages.index("Loading the scale assets.") < messages.index("Preprocessing the scale input data.")
    assert messages.index("Preprocessing the scale input data.") < messages.index("Running inference.")
    assert messages.index("Running inference.") < messages.index("Postprocessing the scale output.")
    assert runner.device == "cpu"
    unload_runner(runner)


def test_load_runner_locks_assets_set_in_load_assets(scale_dir: Path, scale_context: MemoryContext) -> None:
    runner = load_runner(scale_dir, scale_context, "cpu")

    with pytest.raises(AttributeError, match="locked"):
        runner.offset = 0.0  # type: ignore[attr-defined]
    unload_runner(runner)


def test_load_runner_isolates_colliding_helpers(
    scale_dir: Path, other_dir: Path, scale_context: MemoryContext, memory_context: MemoryContext
) -> None:
    before = plain_names()

    scale = load_runner(scale_dir, scale_context, "cpu")
    other = load_runner(other_dir, MemoryContext(), "cpu")

    assert scale.identity() == "scale"  # type: ignore[attr-defined]
    assert other.identity() == "other"  # type: ignore[attr-defined]
    assert other.schema_name() == "ImageSchema"  # type: ignore[attr-defined]
    assert plain_names() == before
    unload_runner(scale)
    unload_runner(other)


def test_load_runner_typed_runner_runs_with_lazy_local_import(
    other_dir: Path, memory_context: MemoryContext
) -> None:
    image_id = memory_context.add_file(image=np.ones((4, 4), dtype=np.float32))
    runner = load_runner(other_dir, memory_context, "cpu")

    (output_id,) = runner.run({"input_dataset_ids": [image_id]})

    np.testing.assert_array_equal(memory_context.read_output(output_id, "image"), np.full((4, 4), 2.0))
    unload_runner(runner)


def test_unload_runner_leaves_sys_modules_clean(scale_dir: Path, scale_context: MemoryContext) -> None:
    before = set(sys.modules)
    finders = list(sys.meta_path)
    runner = load_runner(scale_dir, scale_context, "cpu")
    assert namespaced(runner)

    unload_runner(runner)

    assert set(sys.modules) - before == set()
    assert sys.meta_path == finders


def test_load_runner_propagates_inference_exception_with_traceback(
    scale_dir: Path, scale_context: MemoryContext, scale_package: AlgorithmPackage
) -> None:
    file_id = scale_context.add_file(data=np.zeros(3))
    args = validate_parameters(scale_package.config.additional_parameters, {"label": "explode"})
    runner = load_runner(scale_dir, scale_context, "cpu")

    with pytest.raises(RuntimeError, match="exploded on purpose") as caught:
        runner.run({"input_dataset_ids": [file_id]}, args)

    frames = traceback.extract_tb(caught.value.__traceback__)
    assert frames[-1].filename == str((scale_dir / "Runner.py").resolve())
    assert frames[-1].name == "inference"
    assert "raise RuntimeError" in (frames[-1].line or "")
    assert scale_context.outputs == []
    unload_runner(runner)


def test_load_runner_rejects_package_without_runner_class(
    tmp_path: Path, memory_context: MemoryContext
) -> None:
    (tmp_path / "Runner.py").write_text("class NotARunner:\n    pass\n")
    before = set(sys.modules)

    with pytest.raises(InvalidInputError, match="class Runner"):
        load_runner(tmp_path, memory_context, "cpu")

    assert set(sys.modules) - before == set()


def test_load_runner_cleans_up_when_import_fails(tmp_path: Path, memory_context: MemoryContext) -> None:
    (tmp_path / "Runner.py").write_text("from helpers import missing\n")
    (tmp_path / "helpers.py").write_text("present = 1\n")
    before = set(sys.modules)

    with pytest.raises(ImportError, match="missing"):
        load_runner(tmp_path, memory_context, "cpu")

    assert set(sys.modules) - before == set()
