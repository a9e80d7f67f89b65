"""Our implementation of Compox's runner and training API (`compox.algorithm_utils`, `compox.training`)."""

from stratus.algorithms.runtime.context import LOG_LEVELS, LogLevel, RunnerContext, StopRequested
from stratus.algorithms.runtime.datasets import InputDataError, read_record, write_record
from stratus.algorithms.runtime.io_schemas import (
    AlignmentSchema,
    DataSchema,
    EmbeddingSchema,
    GenericSchema,
    ImageSchema,
    MeshSchema,
    MultiRegionSegmentationSchema,
    SegmentationSchema,
    VolumeSchema,
)
from stratus.algorithms.runtime.kpis import KpiBook, make_kpi, state_kpis
from stratus.algorithms.runtime.runners import BaseRunner
from stratus.algorithms.runtime.training import SampleManifest, TempStore, TrainingDataset, TrainingSample
from stratus.algorithms.runtime.typed import (
    Image2AlignmentRunner,
    Image2EmbeddingRunner,
    Image2ImageRunner,
    Image2MultiRegionSegmentationRunner,
    Image2SegmentationRunner,
    Segmentation2SegmentationRunner,
)

__all__ = [
    "LOG_LEVELS",
    "AlignmentSchema",
    "BaseRunner",
    "DataSchema",
    "EmbeddingSchema",
    "GenericSchema",
    "Image2AlignmentRunner",
    "Image2EmbeddingRunner",
    "Image2ImageRunner",
    "Image2MultiRegionSegmentationRunner",
    "Image2SegmentationRunner",
    "ImageSchema",
    "InputDataError",
    "KpiBook",
    "LogLevel",
    "MeshSchema",
    "MultiRegionSegmentationSchema",
    "RunnerContext",
    "SampleManifest",
    "Segmentation2SegmentationRunner",
    "SegmentationSchema",
    "StopRequested",
    "TempStore",
    "TrainingDataset",
    "TrainingSample",
    "VolumeSchema",
    "make_kpi",
    "read_record",
    "state_kpis",
    "write_record",
]
