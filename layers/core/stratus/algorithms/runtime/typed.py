"""The typed runner bases Compox ships per algorithm type: fixed schemas and default pre/postprocessing."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from stratus.algorithms.runtime.io_schemas import (
    AlignmentSchema,
    DataSchema,
    EmbeddingSchema,
    ImageSchema,
    MultiRegionSegmentationSchema,
    SegmentationSchema,
)
from stratus.algorithms.runtime.runners import BaseRunner

_NOT_IMPLEMENTED = (
    "The inference method is not implemented. Please implement it in the algorithm Runner class."
)


class _TypedRunner(BaseRunner):
    """Shared shape of the typed bases: fetch/post take no schema; inputs are stacked along axis 0."""

    input_schema: ClassVar[type[DataSchema]] = ImageSchema
    output_schema: ClassVar[type[DataSchema]] = ImageSchema
    input_key: ClassVar[str] = "image"

    # Compox's typed runners drop the schema argument: these signatures differ from BaseRunner's on purpose.
    def fetch_data(  # type: ignore[override]
        self, file_ids: list[str], *keys: str, parallel: bool = False
    ) -> list[dict[str, Any]]:
        """Input files validated by this type's input schema."""
        return super().fetch_data(file_ids, self.input_schema, *keys, parallel=parallel)

    def post_data(  # type: ignore[override]
        self, data: list[dict[str, Any]], parallel: bool = False
    ) -> list[str]:
        """Outputs validated by this type's output schema; returns the new file ids."""
        return super().post_data(data, self.output_schema, parallel)

    def preprocess(
        self,
        input_data: dict[str, Any],
        args: dict[str, Any] | None = None,  # noqa: ARG002 (hook signature)
    ) -> np.ndarray[Any, Any]:
        """Fetch each input's `input_key` dataset and stack them along a new first axis."""
        items = self.fetch_data(input_data["input_dataset_ids"], self.input_key)
        stacked = np.stack([item[self.input_key] for item in items], axis=0)
        self._input_images_count = len(items)
        self._input_images_shape = stacked.shape
        return stacked

    def inference(self, data: Any, args: dict[str, Any] | None = None) -> Any:  # noqa: ARG002 (hook signature)
        """To be implemented by the algorithm."""
        raise NotImplementedError(_NOT_IMPLEMENTED)

    def _post_stacked(self, data: Any, key: str, check_count: bool = True) -> list[str]:
        if not isinstance(data, np.ndarray):
            raise TypeError("Data is not a numpy array; the inference method must return a numpy array.")
        if check_count and data.shape[0] != self._input_images_count:
            raise ValueError(
                f"The first dimension of the inference output is {data.shape[0]}, but there were "
                f"{self._input_images_count} input images; return one output per input."
            )
        return self.post_data([{key: data[i]} for i in range(data.shape[0])])


class Image2ImageRunner(_TypedRunner):
    """Images in, images out (ImageSchema both ways)."""

    algorithm_type = "Image2Image"

    def postprocess(self, data: Any, args: dict[str, Any] | None = None) -> list[str]:  # noqa: ARG002 (hook signature)
        """Post one image per slice of the first axis."""
        return self._post_stacked(data, "image")


class Image2SegmentationRunner(_TypedRunner):
    """Images in, masks out (SegmentationSchema)."""

    algorithm_type = "Image2Segmentation"
    output_schema = SegmentationSchema

    def postprocess(self, data: Any, args: dict[str, Any] | None = None) -> list[str]:  # noqa: ARG002 (hook signature)
        """Post one mask per slice of the first axis."""
        return self._post_stacked(data, "mask")


class Segmentation2SegmentationRunner(_TypedRunner):
    """Masks in, masks out."""

    algorithm_type = "Segmentation2Segmentation"
    input_schema = SegmentationSchema
    output_schema = SegmentationSchema
    input_key = "mask"

    def postprocess(self, data: Any, args: dict[str, Any] | None = None) -> list[str]:  # noqa: ARG002 (hook signature)
        """Post one mask per slice of the first axis."""
        return self._post_stacked(data, "mask")


class Image2EmbeddingRunner(_TypedRunner):
    """Images in, feature embeddings out (EmbeddingSchema)."""

    algorithm_type = "Image2Embedding"
    output_schema = EmbeddingSchema

    def postprocess(self, data: Any, args: dict[str, Any] | None = None) -> list[str]:  # noqa: ARG002 (hook signature)
        """Post one `features` item per slice (as Compox; EmbeddingSchema also wants the sizes, so real
        algorithms override this)."""
        return self._post_stacked(data, "features", check_count=False)


class Image2AlignmentRunner(_TypedRunner):
    """An image stack in, one transform per adjacent pair out (AlignmentSchema)."""

    algorithm_type = "Image2Alignment"
    output_schema = AlignmentSchema

    def postprocess(self, data: Any, args: dict[str, Any] | None = None) -> list[str]:  # noqa: ARG002 (hook signature)
        """Post each matrix as both transform and translation matrix, as Compox does."""
        if not isinstance(data, list) or not all(isinstance(item, np.ndarray) for item in data):
            raise TypeError("The inference output must be a list of numpy arrays.")
        if len(data) != self._input_images_count - 1:
            raise ValueError(
                f"Expected {self._input_images_count - 1} matrices (one per adjacent image pair), "
                f"got {len(data)}."
            )
        records = [
            {"points1": [], "points2": [], "confidence": [], "transform_matrix": m, "translation_matrix": m}
            for m in data
        ]
        return self.post_data(records)


class Image2MultiRegionSegmentationRunner(_TypedRunner):
    """Images in, named region masks out: one dict per image."""

    algorithm_type = "Image2MultiRegionSegmentation"
    output_schema = MultiRegionSegmentationSchema

    def postprocess(self, data: Any, args: dict[str, Any] | None = None) -> list[str]:  # noqa: ARG002 (hook signature)
        """Accept `{"region_names": [...], "region_masks": [...]}` or `{name: mask, ...}` per image."""
        if not isinstance(data, list):
            raise TypeError("The inference output must be a list of dictionaries, one per input image.")
        if len(data) != self._input_images_shape[0]:
            raise ValueError(f"{len(data)} outputs for {self._input_images_shape[0]} input images.")
        return self.post_data([self._normalize(index, item) for index, item in enumerate(data)])

    @staticmethod
    def _normalize(index: int, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise TypeError(
                f"The inference output at position {index} is a {type(item).__name__}, not a dict."
            )
        if "region_names" in item or "region_masks" in item:
            if "region_names" not in item or "region_masks" not in item:
                raise ValueError(
                    "An explicit multi-region item needs both 'region_names' and 'region_masks'."
                )
            return {"region_names": list(item["region_names"]), "region_masks": list(item["region_masks"])}
        return {"region_names": list(item), "region_masks": list(item.values())}
