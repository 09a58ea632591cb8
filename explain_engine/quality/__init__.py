"""Face image quality and region visibility (ISO/IEC 29794-5 components as OFIQ names them, plus in-plane
orientation and photograph-or-drawing), judged by the policy in ``prompts/quality_policy.yaml``.

Public API: :func:`assess` (measure and judge one photo), :func:`enforce` (raise :class:`QualityError` on a
refusal), :func:`apply_visibility` (move covered or cut-off regions to ``absent``), :func:`load_policy`.
"""

from explain_engine.quality.core import (
    Component,
    PhotoQuality,
    QualityError,
    RegionVisibility,
    apply_visibility,
    assess,
    caveat,
    enforce,
    judge,
    measure_face,
    pair_record,
    warning_text,
)
from explain_engine.quality.policy import QualityPolicy, load_policy

__all__ = ["Component", "PhotoQuality", "QualityError", "QualityPolicy", "RegionVisibility", "apply_visibility", "assess", "caveat",
           "enforce", "judge", "load_policy", "measure_face", "pair_record",
           "warning_text"]
