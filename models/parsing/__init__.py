"""Face parsing: per-pixel face-part labels in CelebAMask-HQ's 19 classes.

Two backends, one module each:

- ``bisenet`` (reference, :mod:`models.parsing.bisenet`): a thin adapter over the BiSeNet of face-parsing.PyTorch
  (ResNet-18 context path, FFM, 19 classes, 512x512 input) trained on CelebAMask-HQ (``79999_iter.pth``). The
  network is in :mod:`models.parsing.bisenet_net` (written without torchvision, with the original parameter
  names, so the published state dict loads with ``strict=True``); finding and loading a ``.pth`` state dict or
  an ONNX export is in :mod:`models.parsing.bisenet_loader`.
- ``approx`` (offline default, :mod:`models.parsing.approx`): MediaPipe selfie segmentation plus Face Mesh
  geometry. Face parts come from landmark polygons; hair and ears, which the mesh does not cover, come from the
  person mask restricted to a band around the head and separated from skin by colour. Its results say
  ``approximate=True``.

Class order is face-parsing.PyTorch's (index 0 = background), in :mod:`models.parsing.common`. Left/right follow
the image: ``l_*`` is the part with the smaller x in an upright face, as for the five keypoints in
:mod:`models.base`.
"""

from models.parsing.approx import ApproximateParser, ApproximateParsingResult
from models.parsing.bisenet import BISENET_LICENCE, IMAGENET_MEAN, IMAGENET_STD, BiSeNetParser
from models.parsing.bisenet_loader import BISENET_FILE, BISENET_INPUT, BISENET_SUBDIR
from models.parsing.bisenet_net import build_bisenet
from models.parsing.common import CELEBAMASK_CLASSES, CLASS_INDEX

__all__ = [
    "BISENET_FILE",
    "BISENET_INPUT",
    "BISENET_LICENCE",
    "BISENET_SUBDIR",
    "CELEBAMASK_CLASSES",
    "CLASS_INDEX",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ApproximateParser",
    "ApproximateParsingResult",
    "BiSeNetParser",
    "build_bisenet",
]
