"""AVG: the mean of the normalised S0 and S1 maps (the chatbot paper's AVG column; not renormalised)."""

from __future__ import annotations

from .types import AttributionResult


def average_results(results: list[AttributionResult], *, method: str = "avg") -> AttributionResult:
    """Average region results over the regions they share.

    Args:
        results: two or more results of the same pair (e.g. S0 and S1).
        method: the key of the averaged result.

    Returns:
        A result whose ``normalised`` is the mean of the inputs' normalised contributions and whose ``deltas`` is
        the mean of their raw deltas (cosine units); ``details["of"]`` lists the inputs' methods.

    Raises:
        ValueError: fewer than two results.
    """
    if len(results) < 2:
        raise ValueError("averaging needs at least two results")
    regions = [r for r in results[0].deltas if all(r in res.deltas for res in results[1:])]
    n = len(results)
    return AttributionResult(
        method=method, variant="both",
        deltas={r: sum(res.deltas[r] for res in results) / n for r in regions},
        normalised={r: sum(res.normalised[r] for res in results) / n for r in regions},
        reference=results[0].reference, details={"of": [res.method for res in results]})
