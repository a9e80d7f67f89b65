"""BaseRunner: Compox's runner API (hooks, the order they run in, and the services they call)."""

from __future__ import annotations

import io
import numbers
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar

from stratus.algorithms.runtime.context import LOG_LEVELS
from stratus.algorithms.runtime.datasets import read_record, write_record
from stratus.algorithms.runtime.kpis import make_kpi
from stratus.algorithms.runtime.training import TempStore, TrainingDataset, TrainingSample
from stratus.models.jobs import MAX_KPIS

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from stratus.algorithms.runtime.context import LogLevel, RunnerContext
    from stratus.algorithms.runtime.io_schemas import DataSchema

# Attributes the runner machinery sets on itself; never locked as assets.
_INTERNAL = frozenset(
    {
        "_context",
        "_device",
        "_locked_attributes",
        "_locking_assets",
        "_initializing",
        "_checkpoints_saved",
        "_kpi_names",
    }
)
# The temp store's folder in the task's scratch directory (the rest of it is the context's).
TEMP_STORE_FOLDER = "temp_store"
NO_CHECKPOINT = (
    "Training failed: at least one output checkpoint must be created; call save_checkpoint() in train()."
)


def _is_integer(value: Any) -> bool:
    """An int or numpy integer, but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class BaseRunner(ABC):
    """Base of every algorithm's `Runner`: subclasses implement preprocess, inference and postprocess."""

    algorithm_type: ClassVar[str] = "Generic"

    def __init__(self) -> None:  # noqa: B027 (Compox's no-argument __init__, overridden at will)
        """Compox calls `__init__()` with no arguments from `initialize`; subclasses may set fields here."""

    def attach(self, context: RunnerContext) -> None:
        """Bind the task's context; the loader does this before `initialize`."""
        self._context = context

    def initialize(self, device: str | None = None) -> None:
        """Set the device and (re-)run `__init__`, as Compox does before every task; asset fields survive."""
        if device:
            self._device = device
        self._initializing = True
        try:
            self.__init__()  # type: ignore[misc]
        finally:
            self._initializing = False

    @property
    def device(self) -> str:
        """The runtime device resolved for this task (`cpu`, `cuda`, …)."""
        return self._device

    @property
    def context(self) -> RunnerContext:
        """The task's context. Raises RuntimeError when the runner was not attached to one."""
        try:
            return self._context
        except AttributeError:
            raise RuntimeError(
                "the runner is not attached to a task context; load it with load_runner"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        # Compox shares a runner's assets between tasks, so what load_assets set may not be reassigned later.
        if name not in _INTERNAL:
            if getattr(self, "_locking_assets", False):
                self._locked_attributes.add(name)
            elif name in getattr(self, "_locked_attributes", ()):
                if getattr(self, "_initializing", False):
                    return  # re-initialising must not reset a loaded asset
                raise AttributeError(f"Attribute '{name}' is locked and cannot be modified.")
        super().__setattr__(name, value)

    # Hooks -------------------------------------------------------------------------------------------------

    def load_assets(self) -> None:  # noqa: B027 (optional hook, empty on purpose)
        """Load weights and other assets with `fetch_asset`; fields set here are locked afterwards."""

    @abstractmethod
    def preprocess(self, input_data: dict[str, Any], args: dict[str, Any] | None = None) -> Any:
        """Fetch and prepare the inputs (`input_data["input_dataset_ids"]`)."""

    @abstractmethod
    def inference(self, data: Any, args: dict[str, Any] | None = None) -> Any:
        """Run the algorithm on what preprocess returned."""

    @abstractmethod
    def postprocess(self, data: Any, args: dict[str, Any] | None = None) -> list[str]:
        """Post the outputs with `post_data` and return their file ids."""

    def train(self, training_data: list[str], args: dict[str, Any] | None = None) -> Any:  # noqa: ARG002 (hook signature)
        """Train on the given sample ids, saving checkpoints with `save_checkpoint`; what it returns is
        ignored."""
        self.log_message("Training is not implemented for this algorithm; implement Runner.train().", "ERROR")
        raise NotImplementedError

    def benchmark(self, args: dict[str, Any] | None = None) -> dict[str, Any]:  # noqa: ARG002 (hook signature)
        """Run on synthetic data and return metrics."""
        self.log_message(
            "Benchmarking is not implemented for this algorithm; implement Runner.benchmark().", "ERROR"
        )
        raise NotImplementedError

    # Drivers (Compox's run / run_training / run_benchmark) ------------------------------------------------

    def load(self) -> None:
        """Call `load_assets`, recording the fields it sets so they are locked."""
        self._locked_attributes: set[str] = set()
        self._locking_assets = True
        try:
            self.load_assets()
        finally:
            self._locking_assets = False

    def run(self, input_data: dict[str, Any], args: dict[str, Any] | None = None) -> list[str]:
        """preprocess → inference → postprocess; returns the output file ids. Exceptions propagate as is."""
        args = args or {}
        self.log_message("Starting execution.")
        start = time.perf_counter()
        self._kpi_names: set[str] = set()
        self.context.mark_running()
        data = self._stage("Data preprocessing", self.preprocess, input_data, args)
        self.log_message("Running inference.")
        data = self._stage("Inference", self.inference, data, args)
        self.log_message("Postprocessing output data.")
        output_ids = self._stage("Postprocessing", self.postprocess, data, args)
        if not isinstance(output_ids, list | tuple) or not all(isinstance(i, str) for i in output_ids):
            raise TypeError(f"postprocess must return a list of file ids, got {type(output_ids).__name__}")
        self.log_message(f"Execution completed in {time.perf_counter() - start:.2f} seconds.")
        return list(output_ids)

    def run_training(self, training_data: list[str], args: dict[str, Any] | None = None) -> None:
        """Run `train` on the given sample ids. Raises RuntimeError when it saved no checkpoint (Compox
        fails such a training)."""
        self.log_message("Starting training.")
        start = time.perf_counter()
        self._kpi_names = set()
        self.context.mark_running()
        self._checkpoints_saved = 0
        self._stage("Training", self.train, training_data, args or {})
        if self._checkpoints_saved == 0:
            raise RuntimeError(NO_CHECKPOINT)
        self.log_message(f"Training completed in {time.perf_counter() - start:.2f} seconds.")

    def run_benchmark(self, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run `benchmark` and return its metrics (empty when it returns nothing)."""
        self.log_message("Starting benchmark.")
        self.context.raise_if_stop_requested()
        results = self.benchmark(args or {}) or {}
        self.log_message("Benchmark completed.")
        return results

    def _stage(
        self, label: str, hook: Callable[[Any, dict[str, Any]], Any], data: Any, args: dict[str, Any]
    ) -> Any:
        self.context.raise_if_stop_requested()
        start = time.perf_counter()
        result = hook(data, args)
        self.log_message(f"{label} finished in {time.perf_counter() - start:.2f} seconds")
        return result

    # Services ----------------------------------------------------------------------------------------------

    def fetch_asset(self, asset_path: str) -> io.BytesIO:
        """An asset by its path in the package (e.g. `files/weights.pt`). Raises NotFoundError."""
        return io.BytesIO(self.context.read_asset(asset_path))

    def fetch_data(
        self, file_ids: list[str], pydantic_data_schema: type[DataSchema], *keys: str, parallel: bool = False
    ) -> list[dict[str, Any]]:
        """Input files as dicts validated by the schema; with `keys`, only those datasets."""
        return self._fetch(file_ids, pydantic_data_schema, keys, parallel)

    def _fetch(
        self, file_ids: list[str], schema: type[DataSchema], keys: tuple[str, ...], parallel: bool
    ) -> list[dict[str, Any]]:
        # Typed runners override fetch_data without the schema; the temp store needs the one given here.
        self.context.raise_if_stop_requested()

        def fetch(file_id: str) -> dict[str, Any]:
            return read_record(self.context.read_data(file_id), schema, keys, name=file_id)

        return self._map(fetch, list(file_ids), parallel)

    def post_data(
        self, data: list[dict[str, Any]], pydantic_data_schema: type[DataSchema], parallel: bool = False
    ) -> list[str]:
        """Validate each dict by the schema, store it as an HDF5 file, and return the new file ids."""
        self.context.raise_if_stop_requested()
        self.log_message(f"Uploading {len(data)} results to the database.")

        def post(record: Mapping[str, Any]) -> str:
            return self.context.write_data(write_record(record, pydantic_data_schema))

        return self._map(post, list(data), parallel)

    @staticmethod
    def _map(function: Callable[[Any], Any], items: list[Any], parallel: bool) -> list[Any]:
        if not parallel:
            return [function(item) for item in items]
        with ThreadPoolExecutor() as pool:
            return list(pool.map(function, items))

    def set_progress(self, progress: float) -> None:
        """Report progress, a float in [0, 1]. Raises ValueError otherwise, StopRequested on a stop."""
        if not isinstance(progress, float):
            raise ValueError("Progress must be a float.")
        if not 0.0 <= progress <= 1.0:
            raise ValueError("Progress must be between 0 and 1.")
        self.context.set_progress(progress)
        self.context.raise_if_stop_requested()

    def log_message(self, message: str, logging_level: str = "INFO") -> None:
        """Append to the task's log at DEBUG, INFO, WARNING or ERROR. Raises ValueError for other levels."""
        if logging_level not in LOG_LEVELS:
            raise ValueError("Invalid logging level provided.")
        level: LogLevel = logging_level
        self.context.log(level, message)

    def set_state(self, state: dict[str, Any]) -> None:
        """Replace (not merge) the task's free-form state; its numeric entries are KPIs too (without a
        unit), unless report_kpi reported the name."""
        self.context.set_state(state)

    def report_kpi(self, name: str, value: float, unit: str | None = None) -> None:
        """Report a key figure of the task (Stratus only); a later report of the name replaces the value.
        Raises ValueError naming the KPI (a bad name, unit or value: not a finite number) and beyond
        MAX_KPIS names."""
        kpi = make_kpi(name, value, unit)
        names: set[str] = getattr(self, "_kpi_names", set())
        if kpi.name not in names and len(names) >= MAX_KPIS:
            raise ValueError(f"KPI {kpi.name!r}: a task reports at most {MAX_KPIS} KPIs")
        names.add(kpi.name)
        self._kpi_names = names
        self.context.report_kpi(kpi.name, kpi.value, kpi.unit)

    def get_state(self) -> dict[str, Any]:
        """The task's free-form state."""
        return self.context.get_state()

    def save_checkpoint(self, checkpoint: dict[str, bytes], properties: dict[str, Any] | None = None) -> str:
        """Save asset path → bytes (the package's asset paths) as a checkpoint; returns its id. Raises
        ConflictError outside trainings."""
        checkpoint_id = self.context.save_checkpoint(checkpoint, dict(properties or {}))
        self._checkpoints_saved = getattr(self, "_checkpoints_saved", 0) + 1
        return checkpoint_id

    def save_item_to_session(self, obj: Any, key: str) -> None:
        """Keep an item in the task's session for later executions."""
        self.context.session_put(key, obj)

    def load_item_from_session(self, key: str) -> Any:
        """An item of the session. Raises KeyError."""
        return self.context.session_get(key)

    def remove_item_from_session(self, key: str) -> None:
        """Drop an item of the session. Raises KeyError."""
        self.context.session_delete(key)

    # Training services (Compox's, plus Stratus's get_validation_dataset and report_step) -----------------

    def get_training_dataset(self, training_sample_ids: list[str]) -> TrainingDataset:
        """The training samples by id. Raises ValueError for no ids, NotFoundError for an unknown sample,
        ConflictError outside trainings."""
        if not training_sample_ids:
            raise ValueError("A training dataset needs at least one training sample id.")
        dataset = self._read_dataset(list(training_sample_ids))
        self.log_message(f"Fetched training dataset with {len(dataset)} samples.")
        return dataset

    def get_validation_dataset(self) -> TrainingDataset | None:
        """The samples this training may evaluate on, or None when it was given none (Stratus only)."""
        sample_ids = self.context.validation_sample_ids()
        if not sample_ids:
            return None
        dataset = self._read_dataset(sample_ids)
        self.log_message(f"Fetched validation dataset with {len(dataset)} samples.")
        return dataset

    def _read_dataset(self, sample_ids: list[str]) -> TrainingDataset:
        manifests = self.context.read_samples(sample_ids)
        return TrainingDataset([TrainingSample(sample_manifest=manifest) for manifest in manifests])

    def report_step(self, current_step: int, total_steps: int) -> None:
        """Report training progress as steps done of a total (Stratus only). Raises ValueError unless
        0 <= current_step <= total_steps and total_steps >= 1, StopRequested on a stop."""
        if not (_is_integer(current_step) and _is_integer(total_steps)):
            raise ValueError("Steps must be integers.")
        if total_steps < 1:
            raise ValueError("total_steps must be at least 1.")
        if not 0 <= current_step <= total_steps:
            raise ValueError("current_step must be between 0 and total_steps.")
        self.context.set_steps(int(current_step), int(total_steps))
        self.context.raise_if_stop_requested()

    def save_training_files_to_temp_store(
        self,
        folder_path: str | Path,
        files: list[dict[str, Any]],
        pydantic_data_schema: type[DataSchema],
        parallel: bool = True,
    ) -> list[str]:
        """Write in-memory records, validated by the schema, as HDF5 files into a temp-store folder;
        returns their absolute paths."""
        store = self._temp_store()
        folder = store.mkdir(folder_path)
        records = list(files)
        paths = self._map(lambda record: store.save(folder, record, pydantic_data_schema), records, parallel)
        self.log_message(f"Saved {len(paths)} files to the temporary store.")
        return paths

    def download_files_to_temp_store(
        self,
        folder_path: str | Path,
        file_ids: list[str],
        pydantic_data_schema: type[DataSchema],
        batch_size: int = 8,
        *keys: str,
    ) -> list[str]:
        """Copy input files (validated by the schema; with `keys`, only those datasets) into a temp-store
        folder, `batch_size` at a time; returns their absolute paths in the order of `file_ids`."""
        if not _is_integer(batch_size) or batch_size < 1:
            raise ValueError("batch_size must be a positive integer.")
        store = self._temp_store()
        folder = store.mkdir(folder_path)
        ids = list(file_ids)
        paths: list[str] = []
        for start in range(0, len(ids), batch_size):
            records = self._fetch(ids[start : start + batch_size], pydantic_data_schema, keys, True)
            paths += self._map(lambda record: store.save(folder, record, pydantic_data_schema), records, True)
        return paths

    def download_dataset_to_temp_store(
        self, dataset: TrainingDataset, pydantic_data_schemas: dict[str, type[DataSchema]]
    ) -> list[list[dict[str, list[str]]]]:
        """Copy a dataset's files into `<sample_id>/file_<entry>/<key>/` folders, one schema per key;
        returns the samples' entries with local paths in place of file ids."""
        missing = sorted(set(dataset.get_sample_keys()) - set(pydantic_data_schemas))
        if missing:
            raise ValueError(f"No data schema was given for the sample keys {missing}.")
        return [
            [
                {
                    key: self.download_files_to_temp_store(
                        f"{sample.sample_id}/file_{index:06d}/{key}", file_ids, pydantic_data_schemas[key]
                    )
                    for key, file_ids in entry.items()
                }
                for index, entry in enumerate(sample.get_file_list())
            ]
            for sample in dataset
        ]

    def load_dataset_from_temp_store(
        self, local_samples: list[list[dict[str, list[str]]]]
    ) -> list[list[dict[str, list[dict[str, Any]]]]]:
        """What download_dataset_to_temp_store returned, with each path replaced by the file's datasets."""
        load = self.load_files_from_temp_store
        return [
            [{key: load(paths) for key, paths in entry.items()} for entry in sample]
            for sample in local_samples
        ]

    def load_files_from_temp_store(
        self, paths: Sequence[str | Path], parallel: bool = True, *keys: str
    ) -> list[dict[str, Any]]:
        """Every dataset of each temp-store file; with `keys`, only those (missing ones None)."""
        store = self._temp_store()
        return self._map(lambda path: store.load(path, keys), list(paths), parallel)

    def _temp_store(self) -> TempStore:
        return TempStore(self.context.scratch_dir() / TEMP_STORE_FOLDER)
