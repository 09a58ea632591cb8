"""Thin adapters over every pretrained model the product uses, one small protocol per capability.

Each capability has an embedded offline default built from weights that registry packages ship, and real
loaders for the reference models (ArcFace, BiSeNet, RePaint, MPNet, BERT-QA) that a user switches on by
configuration. Nothing here touches the network unless downloads are explicitly allowed
(``FACEX_ALLOW_DOWNLOADS=1`` or ``ModelConfig(allow_downloads=True)``).
"""

from models.base import (
    AlignedFace,
    FaceDetection,
    FaceDetector,
    FaceEmbedder,
    FaceParser,
    Inpainter,
    LandmarkDetector,
    ParsingResult,
    QAAnswer,
    QuestionAnswerer,
    SentenceEmbedder,
)
from models.errors import (
    ConfigError,
    FaceTooSmallError,
    FaceXError,
    ImageError,
    ModelNotFoundError,
    ModelUnavailableError,
    NoFaceError,
)

__all__ = [
    "AlignedFace",
    "ConfigError",
    "FaceDetection",
    "FaceDetector",
    "FaceEmbedder",
    "FaceParser",
    "FaceTooSmallError",
    "FaceXError",
    "ImageError",
    "Inpainter",
    "LandmarkDetector",
    "ModelNotFoundError",
    "ModelUnavailableError",
    "NoFaceError",
    "ParsingResult",
    "QAAnswer",
    "QuestionAnswerer",
    "SentenceEmbedder",
]
