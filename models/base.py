"""The protocols every model adapter implements, and the small value types they exchange.

Conventions, everywhere in the project:
- images are ``numpy.uint8`` arrays of shape (H, W, 3) in RGB order;
- masks are ``bool`` arrays of shape (H, W), True where pixels are to be changed;
- points are float arrays of shape (N, 2) holding (x, y) in pixel coordinates of the image they came from;
- the five face keypoints are ordered as in insightface's ArcFace template, by position in the image:
  eye with the smaller x, eye with the larger x, nose tip, mouth corner with the smaller x, mouth corner with the
  larger x.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

# BlazeFace box side / eye distance on the 29 dev photos with one face: mean 2.42, s.d. 0.16, range 2.16-2.81.
FACE_PER_EYE_DISTANCE = 2.42


@dataclass(frozen=True)
class FaceDetection:
    """One detected face in original-image pixel coordinates."""

    box: np.ndarray  # (4,) float: x0, y0, x1, y1
    score: float
    keypoints: np.ndarray  # (5, 2) float, order described in the module docstring

    @property
    def area(self) -> float:
        """The box area in square pixels (0 for an empty box)."""
        x0, y0, x1, y1 = self.box
        return float(max(0.0, x1 - x0) * max(0.0, y1 - y0))

    @property
    def size(self) -> float:
        """The shorter side of the box, in pixels."""
        x0, y0, x1, y1 = self.box
        return float(min(x1 - x0, y1 - y0))

    @property
    def eye_distance(self) -> float:
        """Pixels between the two eye keypoints (0 when they are missing)."""
        kps = np.asarray(self.keypoints, dtype=np.float64)
        if kps.ndim != 2 or len(kps) < 2:
            return 0.0
        return float(np.hypot(*(kps[1] - kps[0])))

    @property
    def judged_size(self) -> float:
        """The face's size in pixels as "face too small" judges it: the box's shorter side, but never more than
        the eye distance times ``FACE_PER_EYE_DISTANCE``. BlazeFace inflates boxes of tiny faces (a 30 px face on a
        1200 px canvas gets a 41 px box but 7 px between the eyes), so the eyes are the honest measure there."""
        eyes = self.eye_distance
        return min(self.size, FACE_PER_EYE_DISTANCE * eyes) if eyes > 0 else self.size


@dataclass(frozen=True)
class AlignedFace:
    """A face warped onto a canonical template.

    ``matrix`` is the 2x3 similarity transform from original-image coordinates to crop coordinates
    (``cv2.warpAffine(image, matrix, (size, size))`` produced ``crop``); ``inverse`` maps crop points back.
    """

    crop: np.ndarray  # (size, size, 3) uint8
    matrix: np.ndarray  # (2, 3) float
    template: str  # e.g. "arcface112", "dlib150"

    @property
    def size(self) -> int:
        """The crop's side in pixels (112 for ``arcface112``, 150 for ``dlib150``)."""
        return int(self.crop.shape[0])

    @property
    def inverse(self) -> np.ndarray:
        """The (2, 3) float64 similarity matrix from crop coordinates back to original-image coordinates."""
        m = np.vstack([self.matrix, [0.0, 0.0, 1.0]])
        return np.linalg.inv(m)[:2]

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Map original-image points into crop coordinates.

        Args:
            points: (N, 2) (x, y) in original-image pixels.

        Returns:
            (N, 2) float64 (x, y) in crop pixels.
        """
        pts = np.asarray(points, dtype=np.float64)
        return pts @ self.matrix[:, :2].T + self.matrix[:, 2]

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Map crop points back into original-image coordinates.

        Args:
            points: (N, 2) (x, y) in crop pixels.

        Returns:
            (N, 2) float64 (x, y) in original-image pixels.
        """
        inv = self.inverse
        pts = np.asarray(points, dtype=np.float64)
        return pts @ inv[:, :2].T + inv[:, 2]


@dataclass(frozen=True)
class ParsingResult:
    """Per-pixel face-part labels.

    ``labels`` is an (H, W) int array indexing ``class_names`` (CelebAMask-HQ's 19 classes where the parser
    provides them). ``approximate`` is True when the labels are a geometric approximation rather than a
    learned parser's output; the UI and the explanation must say so.
    """

    labels: np.ndarray
    class_names: tuple[str, ...]
    approximate: bool
    source: str  # which backend produced it, for the record

    def mask(self, *names: str) -> np.ndarray:
        """The pixels labelled with any of the given classes.

        Args:
            *names: class names from ``class_names`` (e.g. ``"l_eye", "r_eye"``); names the parser lacks are ignored.

        Returns:
            (H, W) bool mask, True where the label is one of ``names`` (all False when none is known).
        """
        ids = [self.class_names.index(n) for n in names if n in self.class_names]
        return np.isin(self.labels, ids)


@dataclass(frozen=True)
class QAAnswer:
    """One extracted answer span."""

    text: str
    score: float  # probability-like, in [0, 1]
    start: int  # character offsets into the context
    end: int


@dataclass
class ModelInfo:
    """What a backend is and where it loads from; shown by ``python -m models``."""

    capability: str
    name: str
    available: bool
    source: str  # path, package or hub id
    licence: str = ""
    detail: str = ""
    extra: dict = field(default_factory=dict)


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in a photo: ``detect(image) -> [FaceDetection]``.

    Backends: :class:`models.detection.MediaPipeDetector` (BlazeFace), :class:`models.detection.DlibHogDetector`.
    """

    name: str

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """All faces in ``image``, largest first.

        Args:
            image: (H, W, 3) RGB uint8.

        Returns:
            One :class:`FaceDetection` per face in original-image pixels, largest first; an empty list when there is
            none.

        Raises:
            ImageError: ``image`` is not an (H, W, 3) uint8 array or is smaller than 2 x 2 pixels.
        """
        ...


@runtime_checkable
class FaceEmbedder(Protocol):
    """Maps aligned face crops to identity descriptors, compared by cosine similarity.

    Attributes: ``name``; ``template``, the alignment template its crops must use (``"dlib150"`` or
    ``"arcface112"``); ``input_size``, the crop side in pixels; ``threshold``, the default cosine-similarity
    threshold ("match" when similarity >= threshold).
    """

    name: str
    template: str  # the alignment template its crops must use, e.g. "dlib150" or "arcface112"
    input_size: int
    threshold: float  # default cosine-similarity threshold ("match" when similarity >= threshold)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """Descriptors of aligned crops.

        Args:
            crops: (N, size, size, 3) uint8 RGB crops aligned on ``template`` (one (size, size, 3) crop counts as N=1).

        Returns:
            (N, D) float32 embeddings (not necessarily unit-norm; compare with
            :func:`models.embedding.cosine_similarity`).

        Raises:
            ImageError: crops of another shape or dtype (never converted silently).
        """
        ...


@runtime_checkable
class DifferentiableEmbedder(Protocol):
    """A face embedder that also exposes a differentiable forward pass (torch), for gradient maps such as FGGB.

    ``to_tensor`` turns (N, size, size, 3) uint8 crops into the (N, 3, size, size) float tensor, pixel values in
    [0, 255], that ``forward_tensor`` maps to (N, D) embeddings equal to ``embed``'s. ONNX and callable embedders
    do not implement it: gradient methods refuse them.
    """

    name: str

    def to_tensor(self, crops: np.ndarray):
        """Crops as the differentiable path's input tensor.

        Args:
            crops: (N, size, size, 3) uint8 RGB crops aligned on the embedder's template.

        Returns:
            (N, 3, size, size) float32 torch tensor, pixel values in [0, 255], on the embedder's device.

        Raises:
            ImageError: crops of another shape or dtype.
        """
        ...

    def forward_tensor(self, x):
        """Differentiable embeddings.

        Args:
            x: (N, 3, size, size) float torch tensor, RGB pixel values in [0, 255], on the embedder's device.

        Returns:
            (N, D) torch tensor equal to ``embed``'s output; gradients w.r.t. ``x`` flow.

        Raises:
            ImageError: a tensor of another shape.
        """
        ...


@runtime_checkable
class LandmarkDetector(Protocol):
    """Dense face landmarks: ``landmarks(image, box) -> (468 or 478, 2)`` MediaPipe Face Mesh points."""

    name: str

    def landmarks(self, image: np.ndarray, box: np.ndarray | None = None) -> np.ndarray | None:
        """Face Mesh points of one face.

        Args:
            image: (H, W, 3) RGB uint8.
            box: (4,) x0, y0, x1, y1 in pixels restricting the search to one detected face; None to find the face.

        Returns:
            (468 or 478, 2) float64 (x, y) in ``image`` pixel coordinates (478 with the iris refinement), or None
            when no mesh is found.

        Raises:
            ImageError: ``image`` is not an (H, W, 3) uint8 array.
        """
        ...


@runtime_checkable
class FaceParser(Protocol):
    """Per-pixel face-part labels (CelebAMask-HQ's 19 classes): ``parse(image, landmarks) -> ParsingResult``.

    ``approximate`` is True for geometric parsers, whose results must be presented as approximations.
    """

    name: str
    approximate: bool

    def parse(self, image: np.ndarray, landmarks: np.ndarray | None = None) -> ParsingResult:
        """Face-part labels for ``image`` (usually an aligned crop).

        Args:
            image: (H, W, 3) RGB uint8.
            landmarks: (468 or 478, 2) Face Mesh points in ``image`` pixels; geometric parsers need them (or find them
                themselves), learned parsers ignore them.

        Returns:
            :class:`ParsingResult` with (H, W) labels at ``image``'s size.

        Raises:
            ImageError: not an RGB uint8 image, or too small to parse.
        """
        ...


@runtime_checkable
class Inpainter(Protocol):
    """Fills masked pixels: ``inpaint(image, mask, seed=...)``, keeping every pixel outside the mask bit-exact.

    ``deterministic`` is False for sampled backends (their fills depend on ``seed``; equal seeds give equal fills).
    """

    name: str
    deterministic: bool

    def inpaint(self, image: np.ndarray, mask: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        """Fill the pixels where ``mask`` is True; every pixel outside the mask is returned unchanged.

        Args:
            image: (H, W, 3) RGB uint8.
            mask: (H, W) bool, True where pixels are to be filled.
            seed: random seed for sampled backends (None: the backend's default or fresh randomness).

        Returns:
            (H, W, 3) uint8 filled image (a copy when the mask is empty).

        Raises:
            ImageError: a bad image or mask, or a mask over the whole image for a backend that needs known pixels.
        """
        ...

    def inpaint_batch(
        self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], *, seed: int | None = None
    ) -> list[np.ndarray]:
        """``[inpaint(i, m, seed=seed) for i, m in zip(images, masks)]``, batched inside the backend where it can be.

        Args:
            images: N (H, W, 3) RGB uint8 images (sizes may differ).
            masks: N (H, W) bool masks, one per image.
            seed: as for :meth:`inpaint`; every image of the batch gets the noise a single call with this seed would.

        Returns:
            N filled (H, W, 3) uint8 images, in order.

        Raises:
            ImageError: different numbers of images and masks, or a bad image or mask.
        """
        ...


@runtime_checkable
class SentenceEmbedder(Protocol):
    """Sentence embeddings for retrieval: ``encode(sentences) -> (N, D)`` unit-norm vectors."""

    name: str

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        """Embed sentences.

        Args:
            sentences: N strings (one string counts as N=1).

        Returns:
            (N, D) float32 unit-norm embeddings (cosine similarity is their dot product).
        """
        ...


@runtime_checkable
class QuestionAnswerer(Protocol):
    """Extractive question answering: ``answer(question, context) -> [QAAnswer]``."""

    name: str

    def answer(
        self, question: str, context: str, *, top_k: int = 1, max_answer_len: int = 64
    ) -> list[QAAnswer]:
        """The ``top_k`` best spans of ``context`` answering ``question``, best first.

        Args:
            question: the question.
            context: the text the answer is extracted from.
            top_k: the most spans to return.
            max_answer_len: the longest span, in tokens.

        Returns:
            Up to ``top_k`` :class:`QAAnswer` (text, probability-like score in [0, 1], character offsets), best first.
        """
        ...
