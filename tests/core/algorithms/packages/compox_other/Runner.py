"""An Image2Image Compox algorithm whose `helpers` collides with another algorithm's."""

import compox.algorithm_utils.io_schemas as schemas
import numpy as np
from compox.algorithm_utils.Image2ImageRunner import Image2ImageRunner
from helpers import IDENTITY


class Runner(Image2ImageRunner):
    """Doubles every image."""

    def identity(self) -> str:
        """Which helpers package this runner sees."""
        return IDENTITY

    def schema_name(self) -> str:
        """Proves `import compox.algorithm_utils.io_schemas as schemas` binds the module itself."""
        return schemas.ImageSchema.__name__

    def inference(self, data: np.ndarray, args: dict | None = None) -> np.ndarray:
        """Double."""
        import helpers  # a lazy import inside a method must resolve to this package too

        assert helpers.IDENTITY == "other"
        return data * 2
