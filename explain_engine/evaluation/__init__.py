"""Faithfulness evaluation of the region explanations (thesis §4.3/4.5, xFace §4.3).

- :mod:`.metrics`: Deletion / Insertion curves and their AUC for face verification (pure functions over arrays);
- :mod:`.region_swap`: the cut-and-paste test (paste B's region into A, check that the explanation finds it);
- :mod:`.statistics`: rank correlations and per-region aggregates;
- :mod:`.runner`: per-pair evaluation with the engine, cached per pair so interrupted runs resume;
- :mod:`.report`: CSVs, plots, the Markdown report and summary.json;
- :mod:`.cli`: ``python -m explain_engine evaluate PAIRS.csv --root DIR --out DIR``.
"""

from .metrics import (
    accuracy_curve,
    auc,
    compose,
    deletion_insertion_curves,
    removal_image,
    removal_order,
    step_fractions,
    top_fraction_mask,
)
from .region_swap import paste_region, swap_region_masks
from .statistics import mean_pairwise_spearman, spearman

__all__ = [
    "accuracy_curve",
    "auc",
    "compose",
    "deletion_insertion_curves",
    "mean_pairwise_spearman",
    "paste_region",
    "removal_image",
    "removal_order",
    "spearman",
    "step_fractions",
    "swap_region_masks",
    "top_fraction_mask",
]
