"""The data schemas algorithms import from `compox.algorithm_utils.io_schemas`: same fields and checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    Array = np.ndarray[Any, Any]
else:
    # pydantic checks arbitrary types with isinstance, which a parametrised ndarray does not support.
    Array = np.ndarray

IMAGE_DTYPES = (np.uint8, np.uint16, np.float16, np.float32, np.float64)


class DataSchema(BaseModel):
    """Base of every schema: one field per top-level HDF5 dataset; extra datasets are dropped."""

    model_config = ConfigDict(arbitrary_types_allowed=True)


class GenericSchema(DataSchema):
    """Any array under `data`."""

    data: Array


class SegmentationSchema(DataSchema):
    """A mask under `mask`."""

    mask: Array


class MultiRegionSegmentationSchema(DataSchema):
    """Named 2D masks of one shape: `region_names` and `region_masks`."""

    region_names: list[str]
    region_masks: list[Array]

    @model_validator(mode="after")
    def _check_regions(self) -> Self:
        if len(self.region_names) != len(self.region_masks):
            raise ValueError("Number of region names must match number of region masks.")
        shapes = set()
        for index, mask in enumerate(self.region_masks):
            if not isinstance(mask, np.ndarray) or mask.ndim != 2:
                raise ValueError(f"Region mask at index {index} must be a 2D numpy array.")
            shapes.add(mask.shape)
        if len(shapes) > 1:
            raise ValueError("All region masks for one output item must have the same shape.")
        return self


class ImageSchema(DataSchema):
    """A 2D grayscale or 3×H×W RGB image, with an optional mask and points."""

    image: Array
    mask: Array | None = None
    points: list[Array] | None = None

    @field_validator("image")
    @classmethod
    def _check_image(cls, image: Array) -> Array:
        if image.ndim != 2 and (image.ndim != 3 or image.shape[0] != 3):
            raise ValueError(f"Image must be 2D grayscale or 3×H×W RGB (got shape {image.shape}).")
        if image.dtype not in IMAGE_DTYPES:
            raise ValueError(f"Image must be uint8, uint16, float16, float32 or float64 (got {image.dtype}).")
        return image


class VolumeSchema(DataSchema):
    """A 3D volume, with an optional mask, points and stats text."""

    volume: Array
    mask: Array | None = None
    points: list[Array] | None = None
    stats: str | None = None

    @field_validator("volume")
    @classmethod
    def _check_volume(cls, volume: Array) -> Array:
        if volume.ndim != 3:
            raise ValueError("Volume must be a 3 dimensional array.")
        return volume


class MeshSchema(DataSchema):
    """A triangle mesh: N×3 float vertices and N×3 integer faces."""

    vertices: Array
    faces: Array
    stats: str | None = None

    @field_validator("vertices")
    @classmethod
    def _check_vertices(cls, vertices: Array) -> Array:
        if vertices.ndim != 2 or vertices.shape[1] != 3 or vertices.dtype != np.float64:
            raise ValueError("Mesh vertices must be Nx3 numpy array of floats")
        return vertices

    @field_validator("faces")
    @classmethod
    def _check_faces(cls, faces: Array) -> Array:
        if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype != np.int64:
            raise ValueError("Mesh faces must be Nx3 numpy array of integers pointing into vertices array.")
        return faces


class AlignmentSchema(DataSchema):
    """Matched points between two images and the transform relating them."""

    points1: list[Array] | None = Field(default_factory=list)
    points2: list[Array] | None = Field(default_factory=list)
    confidence: list[float] | None = Field(default_factory=list)
    transform_matrix: Array | None = None
    translation_matrix: Array | None = None


class EmbeddingSchema(DataSchema):
    """Image features with the sizes they were computed at."""

    features: Array
    input_size: tuple[Any, ...]
    original_size: tuple[Any, ...]
