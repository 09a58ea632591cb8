"""Picture sheets of the evaluation (a crop and its fills or pastes), written into the output folder only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def save_montage(path: Path, rows: Sequence[Sequence[tuple[str, np.ndarray]]], title: str = "") -> None:
    """A grid of labelled RGB images (e.g. a crop and its fills), one list per row. For OUT only: these are
    derivatives of the evaluated photos and never belong in the repository."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.9 * n_cols, 2.1 * n_rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, row in enumerate(rows):
        for j, (label, image) in enumerate(row):
            axes[i, j].imshow(image)
            axes[i, j].set_title(label, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
