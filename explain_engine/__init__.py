"""The explanation engine: verify a face pair, score its confidence, and explain the decision region by region.

    from explain_engine import Engine, EngineConfig
    engine = Engine(EngineConfig())
    v = engine.verify("a.jpg", "b.jpg")           # Verification: decision, similarity, confidence, ...
    exp = engine.explain("a.jpg", "b.jpg")        # Explanation: to_record() / to_dict() / save(out_dir)
    record = load_record("out/explanation.json")  # ExplanationRecord (schema version 2), validated, digest checked

Heavy modules (torch, mediapipe) load only when an Engine is built, so importing this package is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from explain_engine.calibration import (
    CONFIDENCE_MEANING,
    PIC_MEANING,
    Calibration,
    best_accuracy_threshold,
    default_calibration_path,
    equal_error_rate,
    fit_calibration,
    load_default_calibration,
    threshold_at_fmr,
)

if TYPE_CHECKING:  # pragma: no cover
    from explain_engine.engine import Engine, EngineConfig, Verification
    from explain_engine.explanation import Explanation
    from explain_engine.pipeline import FacePipeline, PreparedFace
    from explain_engine.record import ExplanationRecord, RecordEditedError, RecordError, load_record

_LAZY = {
    "Engine": "explain_engine.engine",
    "EngineConfig": "explain_engine.engine",
    "Verification": "explain_engine.engine",
    "Explanation": "explain_engine.explanation",
    "FacePipeline": "explain_engine.pipeline",
    "PreparedFace": "explain_engine.pipeline",
    "ExplanationRecord": "explain_engine.record",
    "RecordError": "explain_engine.record",
    "RecordEditedError": "explain_engine.record",
    "load_record": "explain_engine.record",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'explain_engine' has no attribute {name!r}")


__all__ = [
    "CONFIDENCE_MEANING",
    "PIC_MEANING",
    "Calibration",
    "Engine",
    "EngineConfig",
    "Explanation",
    "ExplanationRecord",
    "FacePipeline",
    "PreparedFace",
    "RecordEditedError",
    "RecordError",
    "Verification",
    "best_accuracy_threshold",
    "default_calibration_path",
    "equal_error_rate",
    "fit_calibration",
    "load_default_calibration",
    "load_record",
    "threshold_at_fmr",
]
