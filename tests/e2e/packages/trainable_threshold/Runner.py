"""A trainable Compox algorithm for tests: segments images above a threshold that training learns."""

import numpy as np
from compox.algorithm_utils.Image2SegmentationRunner import Image2SegmentationRunner
from compox.algorithm_utils.io_schemas import ImageSchema, SegmentationSchema
from compox.training.TrainingDataset import TrainingDataset

THRESHOLD_ASSET = "files/threshold.txt"


class Runner(Image2SegmentationRunner):
    """Pixels above the threshold are foreground; `train` learns the threshold from image/mask pairs."""

    def load_assets(self):
        """Read the threshold (the asset a checkpoint replaces)."""
        self.threshold = float(self.fetch_asset(THRESHOLD_ASSET).read().decode())

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        """One mask per image."""
        return (data > self.threshold).astype(np.uint8)

    def train(self, training_data: list[str], args: dict | None = None) -> dict:
        """Move the threshold towards the midpoint of the foreground and background means, once per epoch.

        Each sample's entries pair an `input` image with a `target` mask."""
        args = args or {}
        num_epochs = args.get("num_epochs", 3)
        learning_rate = args.get("learning_rate", 0.5)
        dataset = self.get_training_dataset(training_data)
        if not isinstance(dataset, TrainingDataset):
            raise TypeError(f"expected a TrainingDataset, got {type(dataset).__name__}")
        self.log_message(f"Training on {len(dataset)} samples with keys {dataset.get_sample_keys()}.")

        images = [item["image"] for sample in dataset for item in self.fetch_data(sample[:, "input"])]
        local = self.download_dataset_to_temp_store(
            dataset, {"input": ImageSchema, "target": SegmentationSchema}
        )
        loaded = self.load_dataset_from_temp_store(local)
        masks = [record["mask"] for sample in loaded for entry in sample for record in entry["target"]]
        pixels = np.concatenate([image.ravel() for image in images])
        labels = np.concatenate([mask.ravel() for mask in masks]).astype(bool)
        best = (pixels[labels].mean() + pixels[~labels].mean()) / 2

        threshold = self.threshold
        accuracy = float(np.mean((pixels > threshold) == labels))
        for epoch in range(num_epochs):
            threshold = float(threshold + learning_rate * (best - threshold))
            accuracy = float(np.mean((pixels > threshold) == labels))
            self.log_message(
                f"Epoch {epoch + 1}/{num_epochs}: threshold {threshold:.4f}, accuracy {accuracy:.2f}"
            )
            self.set_state({"epoch": epoch + 1, "threshold": threshold, "accuracy": accuracy})
            self.set_progress((epoch + 1) / num_epochs)

        checkpoint = {THRESHOLD_ASSET: f"{threshold}\n".encode()}
        self.save_checkpoint(
            checkpoint, properties={"accuracy": accuracy, "threshold": threshold, "epochs": num_epochs}
        )
        return checkpoint
