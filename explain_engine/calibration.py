"""Calibration of a face model's cosine similarities: threshold, error rates and the two confidence scores.

Fitted once per face model from labelled pairs (genuine = same person, impostor = different people):

- the decision threshold with the best accuracy, and the threshold at a chosen false-match rate (FMR);
- the equal error rate (EER);
- the xFace C-score (Knoche et al., WACVW 2023, section 3.1): a histogram of cosine *distances* d = 1 - s with
  400 bins, the per-bin ratio genuine / (genuine + impostor), a 4-parameter logistic
  c(d) = L / (1 + exp(-k (d - d0))) + b fitted with ``curve_fit(method="dogbox")`` and clipped to [0, 1], then
  C = c(d) if d <= t else 1 - c(d);
- the PIC-score (Neto et al., CVPRW 2023; used by the chatbot paper): Gaussian kernel density estimates of the
  genuine and impostor similarities give P(genuine | s) = f_g(s) / (f_g(s) + f_i(s)) (equal priors); the
  probability that a decision is right is that value for "match" and one minus it for "non-match".

- the score-based likelihood ratio (LR) for the propositions "same person" / "different people": a calibrator from
  the ``lir`` library (Netherlands Forensic Institute) maps a similarity to log10 LR -- logistic regression
  (``LogitCalibrator``) or kernel density estimation (``KDECalibrator``, Silverman bandwidths) -- chosen by the lower
  cross-validated Cllr (stratified k-fold), then bounded with the empirical lower and upper bounds (ELUB; Vergeer,
  van Es, de Jongh, Alberink, Stoel, Science & Justice 56 (2016) 482-491) so that it never claims more than the
  calibration pairs can support;
- the evaluation of that LR system: Cllr (cross-validated), Cllr_min (after PAV), Cllr_cal = Cllr - Cllr_min (Brümmer
  & du Preez 2006), EER, and FMR / FNMR at the threshold with exact 95% Clopper-Pearson intervals; Tippett, ECE
  (Ramos) and DET plots are written next to the calibration file by ``calibrate``.

A calibration is saved as JSON (numbers only: the fitted parameters and the pair similarities the densities are
rebuilt from, plus where they came from). Shipped calibrations live in ``explain_engine/calibrations/<model>.json``.
The LR calibrator is refitted from the stored similarities when a file is loaded (both calibrators are
deterministic); the stored parameters are checked against the refit so that an edited file is noticed.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import threading
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models.errors import ConfigError

CALIBRATIONS_DIR = Path(__file__).resolve().parent / "calibrations"
HISTOGRAM_BINS = 400  # xFace section 3.1
SCHEMA = "facex-calibration/2"  # /2 adds the "lr" and "evaluation" sections; /1 files still load
LR_CALIBRATORS = ("logistic", "kde")  # lir's LogitCalibrator and KDECalibrator
CV_FOLDS = 5  # stratified folds for the cross-validated Cllr that chooses the calibrator
CV_SEED = 0
EXACT_POINTS = 1024  # evaluate a calibrator exactly at up to this many scores at once; beyond, on a grid
GRID_POINTS = 1024
SCORE_DECIMALS = 7  # similarities are stored (and fitted) with 7 decimals
MIN_PAIRS_PER_CLASS = 10  # fewer genuine or impostor pairs: calibrate refuses (nothing it fits would be usable)
SMALL_SET_PAIRS = 100  # fewer per class: the calibration is written with a loud warning stored in it
ELUB_SOURCE = (
    "Vergeer P, van Es A, de Jongh A, Alberink I, Stoel R. Numerical likelihood ratios outputted by LR systems are "
    "often based on extrapolation: when to stop extrapolating? Science & Justice 56 (2016) 482-491"
)
CLLR_SOURCE = "Brümmer N, du Preez J. Application-independent evaluation of speaker detection. CSL 20 (2006) 230-275"

# What the two scores mean: codes in the record, words in prompts/statements.yaml ``scores``.
CONFIDENCE_MEANING = "c_score"
PIC_MEANING = "pic"


def logistic4(d: np.ndarray, L: float, d0: float, k: float, b: float) -> np.ndarray:
    """xFace eq. 2: c(d) = L / (1 + exp(-k (d - d0))) + b."""
    z = np.clip(-k * (np.asarray(d, dtype=np.float64) - d0), -500.0, 500.0)  # no overflow warnings far out
    return L / (1.0 + np.exp(z)) + b


# ----------------------------------------------------------------------------------------------------------------
# thresholds and error rates (similarity scores: "match" iff s >= t)


def _as_scores(values: Sequence[float], what: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size == 0:
        raise ConfigError(f"calibration needs at least one {what} pair")
    if not np.isfinite(a).all():
        raise ConfigError(f"{what} similarities contain NaN or infinite values")
    return a


def _candidate_thresholds(genuine: np.ndarray, impostor: np.ndarray) -> np.ndarray:
    """Midpoints between consecutive distinct scores, plus one below and one above all of them."""
    values = np.unique(np.concatenate([genuine, impostor]))
    mids = (values[1:] + values[:-1]) / 2.0
    return np.concatenate([[values[0] - 1e-6], mids, [values[-1] + 1e-6]])


def rates(genuine: np.ndarray, impostor: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FMR, FNMR) at each threshold: impostors accepted, genuine pairs rejected."""
    g = np.sort(genuine)
    i = np.sort(impostor)
    fnmr = np.searchsorted(g, thresholds, side="left") / g.size  # genuine below t are rejected
    fmr = 1.0 - np.searchsorted(i, thresholds, side="left") / i.size  # impostors at or above t are accepted
    return fmr, fnmr


def best_accuracy_threshold(genuine: Sequence[float], impostor: Sequence[float]) -> tuple[float, float]:
    """The threshold with the highest accuracy over all pairs, and that accuracy.

    Where several thresholds tie, the middle one of the widest tied stretch is taken, which keeps the threshold
    away from the nearest scores on either side.
    """
    g, i = _as_scores(genuine, "genuine"), _as_scores(impostor, "impostor")
    cands = _candidate_thresholds(g, i)
    fmr, fnmr = rates(g, i, cands)
    correct = (1.0 - fnmr) * g.size + (1.0 - fmr) * i.size
    acc = correct / (g.size + i.size)
    best = acc.max()
    is_best = np.isclose(acc, best, rtol=0, atol=1e-12)
    # contiguous runs of best candidates; take the run spanning the widest score interval
    idx = np.flatnonzero(is_best)
    runs = np.split(idx, np.flatnonzero(np.diff(idx) > 1) + 1)
    widest = max(runs, key=lambda r: cands[r[-1]] - cands[r[0]])
    t = float((cands[widest[0]] + cands[widest[-1]]) / 2.0)
    return t, float(best)


def threshold_at_fmr(impostor: Sequence[float], fmr: float) -> float:
    """The lowest threshold whose false-match rate on ``impostor`` is at most ``fmr``."""
    if not 0.0 <= fmr < 1.0:
        raise ConfigError(f"false-match rate must be in [0, 1), not {fmr}")
    i = np.sort(_as_scores(impostor, "impostor"))[::-1]
    allowed = math.floor(fmr * i.size + 1e-9)  # how many impostors may sit at or above t
    if allowed >= i.size:
        return float(i[-1])
    # just above the (allowed+1)-th highest impostor so that only ``allowed`` impostors are accepted
    return float(np.nextafter(i[allowed], np.inf))


def equal_error_rate(genuine: Sequence[float], impostor: Sequence[float]) -> tuple[float, float]:
    """(EER, threshold where FMR and FNMR cross), interpolating linearly between candidate thresholds."""
    g, i = _as_scores(genuine, "genuine"), _as_scores(impostor, "impostor")
    cands = _candidate_thresholds(g, i)
    fmr, fnmr = rates(g, i, cands)
    diff = fmr - fnmr  # decreasing from +1 to -1 as t rises
    k = int(np.argmax(diff <= 0))
    if k == 0:
        return float((fmr[0] + fnmr[0]) / 2), float(cands[0])
    d0, d1 = diff[k - 1], diff[k]
    w = d0 / (d0 - d1) if d0 != d1 else 0.5
    eer = (1 - w) * (fmr[k - 1] + fnmr[k - 1]) / 2 + w * (fmr[k] + fnmr[k]) / 2
    t = (1 - w) * cands[k - 1] + w * cands[k]
    return float(eer), float(t)


# ----------------------------------------------------------------------------------------------------------------
# the xFace C-score


def cscore_histogram(
    genuine_distances: np.ndarray, impostor_distances: np.ndarray, bins: int = HISTOGRAM_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and genuine/(genuine+impostor) ratios of the non-empty bins of a ``bins``-bin histogram.

    The bins span the observed distances (not the full [0, 2]): models such as dlib use a narrow part of the
    range, and 400 bins over [0, 2] would put all pairs into a handful of bins.
    """
    all_d = np.concatenate([genuine_distances, impostor_distances])
    lo, hi = float(all_d.min()), float(all_d.max())
    if hi <= lo:
        hi = lo + 1e-6
    edges = np.linspace(lo, hi, bins + 1)
    hg, _ = np.histogram(genuine_distances, edges)
    hi_, _ = np.histogram(impostor_distances, edges)
    total = hg + hi_
    keep = total > 0
    centres = (edges[:-1] + edges[1:]) / 2.0
    return centres[keep], hg[keep] / total[keep]


def fit_cscore(
    genuine: Sequence[float], impostor: Sequence[float], threshold: float, bins: int = HISTOGRAM_BINS
) -> dict:
    """Fit xFace's logistic c(d) to the per-bin genuine ratio. Returns {"L", "d0", "k", "b"} and fit details."""
    from scipy.optimize import curve_fit

    g = 1.0 - _as_scores(genuine, "genuine")
    i = 1.0 - _as_scores(impostor, "impostor")
    x, y = cscore_histogram(g, i, bins)
    t_dist = 1.0 - threshold
    spread = max(float(np.std(np.concatenate([g, i]))), 1e-3)
    # decreasing curve from 1 (genuine side, small d) to 0: L = 1, b = 0, k < 0, centre at the threshold
    # When no genuine distance exceeds an impostor distance, every curve stepping inside the gap fits the ratios
    # exactly and the steepness is not identified (dogbox runs off towards a step, giving C = 1 right beside the
    # threshold). Then the steepness is bounded: the least steep curve that is still 95% / 5% at the nearest
    # genuine and impostor pair, so that C falls towards 0.5 inside the gap where the data say nothing.
    gap = float(i.min() - g.max())
    separated = gap > 0
    k_limit = math.log(19.0) / max(gap / 2.0, 1e-9) if separated else np.inf
    p0 = [1.0, t_dist, -min(4.0 / spread, 0.5 * k_limit), 0.0]
    bounds = ([-np.inf, -np.inf, -k_limit, -np.inf], [np.inf, np.inf, k_limit, np.inf])
    try:
        params, _ = curve_fit(logistic4, x, y, p0=p0, method="dogbox", bounds=bounds, maxfev=20000)
    except (RuntimeError, ValueError) as exc:  # too few bins or no convergence: say so, do not guess
        raise ConfigError(f"the C-score curve could not be fitted ({exc}); use more calibration pairs") from None
    L, d0, k, b = (float(v) for v in params)
    residual = float(np.sqrt(np.mean((logistic4(x, L, d0, k, b) - y) ** 2)))
    return {
        "L": L, "d0": d0, "k": k, "b": b, "bins": bins, "bins_used": int(x.size), "rmse": residual,
        "separated": bool(separated), "k_limit": float(k_limit) if separated else None,
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------
# the score-based likelihood ratio (lir calibrators, ELUB bounds, Cllr)


_IMPORT_LOCK = threading.Lock()
_IMPORTED = False


def preload_lir() -> None:
    """Import lir and the scikit-learn parts it uses, once per process, under a lock.

    Two threads importing scikit-learn for the first time at once can deadlock in the import system (the app loads
    its sentence models in a background thread while a page computes an LR); every LR function calls this first,
    and the app calls it before its background loading.
    """
    global _IMPORTED
    if _IMPORTED:
        return
    with _IMPORT_LOCK:
        if not _IMPORTED:
            import lir.algorithms.bayeserror
            import lir.algorithms.kde
            import lir.algorithms.logistic_regression
            import lir.data.models
            import lir.metrics  # noqa: F401
            import sklearn.model_selection  # noqa: F401

            _IMPORTED = True


def _labelled(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels in lir's convention: 1 = H1 (same person), 0 = H2 (different people)."""
    x = np.concatenate([genuine, impostor]).astype(np.float64)
    y = np.concatenate([np.ones(genuine.size, dtype=int), np.zeros(impostor.size, dtype=int)])
    return x, y


def _lir_calibrator(kind: str):
    """A fresh, unfitted lir calibrator of ``kind`` ("logistic" or "kde")."""
    preload_lir()
    from lir.algorithms.kde import KDECalibrator
    from lir.algorithms.logistic_regression import LogitCalibrator

    if kind == "logistic":
        return LogitCalibrator()  # sklearn LogisticRegression, balanced classes, default L2 penalty (C = 1)
    if kind == "kde":
        return KDECalibrator(bandwidth="silverman")  # one Gaussian KDE per class, Silverman's bandwidth each
    raise ConfigError(f"LR calibrator must be one of {', '.join(LR_CALIBRATORS)}, not {kind!r}")


# lir changed its interface after 1.3 (calibrators take and return LLRData with fit/apply; elub and the plots take
# LLRData and the axes first). These four helpers speak both, so that any lir >= 1.3.1 works.
def _lir_fit(calibrator, z: np.ndarray, y: np.ndarray):
    if hasattr(calibrator, "apply"):
        from lir.data.models import LLRData

        return calibrator.fit(LLRData(features=z, labels=y))
    return calibrator.fit(z, y)


def _lir_llrs(calibrator, z: np.ndarray) -> np.ndarray:
    """The calibrator's log10 LRs at ``z``. Above EXACT_POINTS values (KDE scoring costs n_train x n_points), the
    calibrator is evaluated exactly on GRID_POINTS evenly spaced values spanning ``z`` and linearly interpolated:
    both calibrators are smooth on that scale (|error| < 1e-3 in log10 LR on 12,000 synthetic pairs; tested)."""
    z = np.asarray(z, dtype=np.float64)
    finite = np.isfinite(z)
    if z.size > EXACT_POINTS and finite.all() and np.ptp(z) > 0:
        grid = np.linspace(z.min(), z.max(), GRID_POINTS)
        return np.interp(z, grid, _lir_llrs_exact(calibrator, grid))
    return _lir_llrs_exact(calibrator, z)


def _lir_llrs_exact(calibrator, z: np.ndarray) -> np.ndarray:
    if hasattr(calibrator, "apply"):
        from lir.data.models import LLRData

        return np.asarray(calibrator.apply(LLRData(features=z)).llrs, dtype=np.float64)
    return np.asarray(calibrator.transform(z), dtype=np.float64)


def _lir_elub(llrs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    import inspect

    from lir.algorithms.bayeserror import elub

    first = next(iter(inspect.signature(elub).parameters))
    if first == "llrs":
        return elub(np.array(llrs, dtype=np.float64), y)
    from lir.data.models import LLRData

    return elub(LLRData(features=np.array(llrs, dtype=np.float64), labels=y))


def _lir_plot(function, ax, data) -> None:
    import inspect

    first = next(iter(inspect.signature(function).parameters))
    if first == "ax":
        function(ax, data)
    else:
        function(data, ax=ax)


@dataclass
class ScoreToLR:
    """A fitted similarity -> log10 LR map: a lir calibrator on standardised scores, bounded by ELUB.

    ``log10_lr(s)`` is the bounded value (what is reported); ``log10_lr_unbounded(s)`` the calibrator's own.
    H1 = the photos show the same person, H2 = they show different people.
    """

    kind: str
    centre: float  # scores are standardised, z = (s - centre) / scale, before the calibrator
    scale: float
    lower: float  # ELUB log10 LR bounds
    upper: float
    calibrator: object = field(repr=False)

    def log10_lr_unbounded(self, similarity: float | np.ndarray) -> np.ndarray:
        s = np.atleast_1d(np.asarray(similarity, dtype=np.float64))
        z = (s - self.centre) / self.scale
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _lir_llrs(self.calibrator, z).reshape(s.shape)

    def log10_lr(self, similarity: float | np.ndarray) -> np.ndarray:
        return np.clip(self.log10_lr_unbounded(similarity), self.lower, self.upper)

    def parameters(self) -> dict:
        """The fitted numbers, for the calibration file (logistic: intercept and slope on z; KDE: bandwidths)."""
        c = self.calibrator
        if self.kind == "logistic":
            return {"intercept": float(c._logit.intercept_[0]), "slope": float(c._logit.coef_[0][0])}
        return {"bandwidth_impostor": float(c._kde0.bandwidth), "bandwidth_genuine": float(c._kde1.bandwidth)}


def fit_score_to_lr(genuine: Sequence[float], impostor: Sequence[float], kind: str) -> ScoreToLR:
    """Fit lir calibrator ``kind`` on genuine/impostor similarities and bound it with ELUB (lir's ``elub``).

    Args:
        genuine: cosine similarities of same-person pairs, shape (n_g,).
        impostor: cosine similarities of different-person pairs, shape (n_i,).
        kind: "logistic" (lir LogitCalibrator) or "kde" (lir KDECalibrator, Silverman bandwidths).

    Returns:
        The bounded map. ELUB (Vergeer et al. 2016) keeps |log10 LR| below log10(n + 1) of the class that would
        have to show a misleading pair, and lower where the calibrated LRs lose expected utility.
    """
    g, i = _as_scores(genuine, "genuine"), _as_scores(impostor, "impostor")
    x, y = _labelled(g, i)
    centre, scale = float(x.mean()), float(x.std())
    if not scale > 0:
        raise ConfigError("all calibration similarities are equal; an LR cannot be fitted")
    z = (x - centre) / scale
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibrator = _lir_fit(_lir_calibrator(kind), z, y)
        lower, upper = _lir_elub(_lir_llrs(calibrator, z), y)
    return ScoreToLR(kind, centre, scale, float(lower), float(upper), calibrator)


def cross_validated_llrs(
    genuine: Sequence[float], impostor: Sequence[float], kind: str, folds: int = CV_FOLDS, seed: int = CV_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold bounded log10 LRs of every pair: calibrator and ELUB fitted on the other folds.

    Returns:
        (llrs, labels), each shape (n_g + n_i,), labels 1 = genuine.
    """
    preload_lir()
    from sklearn.model_selection import StratifiedKFold

    g, i = _as_scores(genuine, "genuine"), _as_scores(impostor, "impostor")
    x, y = _labelled(g, i)
    k = int(min(folds, g.size, i.size))
    if k < 2:
        raise ConfigError("cross-validation needs at least two genuine and two impostor pairs")
    out = np.empty(x.size)
    for train, test in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y):
        model = fit_score_to_lr(x[train][y[train] == 1], x[train][y[train] == 0], kind)
        out[test] = model.log10_lr(x[test])
    return out, y


def cllr_figures(llrs: np.ndarray, labels: np.ndarray) -> dict:
    """Cllr, Cllr_min (after PAV) and Cllr_cal = Cllr - Cllr_min of log10 LRs (lir.metrics; Brümmer 2006)."""
    preload_lir()
    from lir.data.models import LLRData
    from lir.metrics import cllr, cllr_min

    data = LLRData(features=np.asarray(llrs, dtype=np.float64), labels=np.asarray(labels, dtype=int))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c, c_min = float(cllr(data)), float(cllr_min(data))
    return {"cllr": c, "cllr_min": c_min, "cllr_cal": c - c_min}


def clopper_pearson(errors: int, n: int, level: float = 0.95) -> dict:
    """An error rate with its exact (Clopper-Pearson) interval: {"value", "errors", "n", "ci95": [lo, hi]}."""
    from scipy.stats import binomtest

    if n <= 0:
        return {"value": None, "errors": int(errors), "n": 0, "ci95": [None, None]}
    ci = binomtest(int(errors), int(n)).proportion_ci(confidence_level=level, method="exact")
    return {"value": errors / n, "errors": int(errors), "n": int(n), "ci95": [float(ci.low), float(ci.high)]}


def error_rates_at(genuine: Sequence[float], impostor: Sequence[float], threshold: float) -> dict:
    """FMR and FNMR at ``threshold`` ("match" iff s >= t) with 95% Clopper-Pearson intervals."""
    g, i = _as_scores(genuine, "genuine"), _as_scores(impostor, "impostor")
    false_matches = int(np.sum(i >= threshold))
    false_non_matches = int(np.sum(g < threshold))
    return {"fmr": clopper_pearson(false_matches, i.size), "fnmr": clopper_pearson(false_non_matches, g.size)}


def fit_lr_section(
    genuine: Sequence[float], impostor: Sequence[float], *, folds: int = CV_FOLDS, seed: int = CV_SEED,
    calibrator: str | None = None,
) -> tuple[dict, dict]:
    """Choose the LR calibrator by cross-validated Cllr, fit it on all pairs, and evaluate it.

    Args:
        genuine, impostor: similarities of the labelled pairs.
        folds, seed: the stratified k-fold split of the cross-validation.
        calibrator: force one of LR_CALIBRATORS instead of choosing by Cllr.

    Returns:
        (lr, cv): ``lr`` the "lr" section of the calibration file; ``cv`` {kind: (llrs, labels)} out-of-fold log10
        LRs per candidate (for the plots), and "model": the fitted :class:`ScoreToLR`.
    """
    from importlib import metadata

    candidates, cv = {}, {}
    for kind in LR_CALIBRATORS:
        llrs, labels = cross_validated_llrs(genuine, impostor, kind, folds, seed)
        cv[kind] = (llrs, labels)
        candidates[kind] = cllr_figures(llrs, labels)
    if calibrator is not None:
        if calibrator not in LR_CALIBRATORS:
            raise ConfigError(f"LR calibrator must be one of {', '.join(LR_CALIBRATORS)}, not {calibrator!r}")
        chosen, rule = calibrator, "chosen by the user"
    else:
        chosen = min(LR_CALIBRATORS, key=lambda k: candidates[k]["cllr"])
        rule = f"lowest cross-validated Cllr ({min(folds, len(genuine), len(impostor))}-fold stratified, seed {seed})"
    model = fit_score_to_lr(genuine, impostor, chosen)
    cv["model"] = model
    try:
        lir_version = metadata.version("lir")
    except metadata.PackageNotFoundError:  # pragma: no cover - lir is a dependency
        lir_version = "unknown"
    lr = {
        "calibrator": chosen,
        "selection": rule,
        "candidates": candidates,
        "library": f"lir {lir_version}",
        "score_transform": {"centre": model.centre, "scale": model.scale},
        "parameters": model.parameters(),
        "bounds": {"method": "ELUB", "source": ELUB_SOURCE, "log10_lower": model.lower, "log10_upper": model.upper},
        "cv": {"folds": int(min(folds, len(genuine), len(impostor))), "seed": int(seed)},
    }
    return lr, cv


def evaluate_lr_system(
    genuine: Sequence[float], impostor: Sequence[float], threshold: float, lr: dict, cv_llrs: np.ndarray,
    labels: np.ndarray, model: ScoreToLR | None = None,
) -> dict:
    """The "evaluation" section: Cllr figures (cross-validated), EER, FMR/FNMR at the threshold with 95% intervals."""
    g, i = _as_scores(genuine, "genuine"), _as_scores(impostor, "impostor")
    eer, t_eer = equal_error_rate(g, i)
    model = model or fit_score_to_lr(g, i, lr["calibrator"])
    x, y = _labelled(g, i)
    in_sample = cllr_figures(model.log10_lr(x), y)
    figures = cllr_figures(cv_llrs, labels)
    return {
        **figures,
        "cllr_in_sample": in_sample["cllr"],
        "cllr_meaning": "Cllr (bits): 0 = perfect, 1 = an uninformative system (LR 1 always); cross-validated",
        "cllr_source": CLLR_SOURCE,
        "eer": eer,
        "eer_threshold": t_eer,
        "threshold": float(threshold),
        **error_rates_at(g, i, threshold),
        "n_genuine": int(g.size),
        "n_impostor": int(i.size),
        "plots": {},
    }


def size_warnings(n_genuine: int, n_impostor: int) -> list[str]:
    """Raise ConfigError when a class has fewer than MIN_PAIRS_PER_CLASS pairs; warnings for small sets."""
    if n_genuine < MIN_PAIRS_PER_CLASS or n_impostor < MIN_PAIRS_PER_CLASS:
        raise ConfigError(
            f"too few calibration pairs: {n_genuine} genuine and {n_impostor} impostor; at least "
            f"{MIN_PAIRS_PER_CLASS} of each are needed to fit and cross-validate anything usable (more is better: "
            f"with n pairs no error rate below about 3/n can be shown)"
        )
    out = []
    for n, what in ((n_genuine, "genuine"), (n_impostor, "impostor")):
        if n < SMALL_SET_PAIRS:
            worst = clopper_pearson(0, n)["ci95"][1]
            out.append(
                f"small calibration set: only {n} {what} pairs; even with no error among them the 95% upper bound "
                f"of the error rate is {worst:.3f}, and the LR is bounded accordingly (ELUB)"
            )
    return out


def plot_calibration(cal: Calibration, out_dir: str | Path, prefix: str = "") -> dict[str, str]:
    """Write the Tippett, ECE, DET, LR-curve and score plots (PNG) of ``cal`` into ``out_dir``.

    The Tippett and ECE plots use the cross-validated log10 LRs (lir.plotting); the DET curve the raw similarities on
    probit axes (Martin et al. 1997), with the threshold's FMR / FNMR and their 95% upper limits. Returns
    {kind: file name}.
    """
    import matplotlib

    preload_lir()
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from lir.data.models import LLRData
    from lir.plotting import expected_calibration_error, tippett

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    g, i = np.asarray(cal.genuine_scores), np.asarray(cal.impostor_scores)
    lr = cal.lr_section()
    if cal._cv is not None:
        llrs, labels = cal._cv
    else:
        llrs, labels = cross_validated_llrs(g, i, lr["calibrator"], lr["cv"]["folds"], lr["cv"]["seed"])
        cal._cv = (llrs, labels)
    data = LLRData(features=llrs, labels=labels)
    title = f"{cal.name}: {cal.n_genuine} genuine, {cal.n_impostor} impostor pairs"
    files = {}

    def save(fig, kind: str) -> None:
        name = f"{prefix}{kind}.png"
        fig.savefig(out / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        files[kind] = name

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig, ax = plt.subplots(figsize=(6, 4))
        _lir_plot(tippett, ax, data)
        ax.set_ylim(0, 100)  # lir lets matplotlib fit the curves: a 40% floor made every proportion look larger
        ax.set_title(f"Tippett plot (cross-validated LRs, {lr['calibrator']}, ELUB)\n{title}", fontsize=9)
        save(fig, "tippett")

        fig, ax = plt.subplots(figsize=(6, 4))
        _lir_plot(expected_calibration_error.plot_ece, ax, data)
        ax.set_title(f"ECE plot (cross-validated LRs)\n{title}", fontsize=9)
        save(fig, "ece")

        from scipy.stats import norm

        fig, ax = plt.subplots(figsize=(5, 5))
        cands = _candidate_thresholds(g, i)
        fmr_c, fnmr_c = rates(g, i, cands)
        # rates of 0 have no probit: they are drawn at half a pair (0.5 / n), and the plot says so
        floor_m, floor_n = 0.5 / i.size, 0.5 / g.size
        px = norm.ppf(np.clip(fmr_c, floor_m, 1 - floor_m))
        py = norm.ppf(np.clip(fnmr_c, floor_n, 1 - floor_n))
        ax.plot(px, py, "-", color="tab:blue", label=cal.model)
        t = cal.threshold
        ev = error_rates_at(g, i, t)
        fm, fn = ev["fmr"], ev["fnmr"]
        ax.errorbar(
            norm.ppf(max(fm["value"], floor_m)), norm.ppf(max(fn["value"], floor_n)),
            xerr=[[0], [norm.ppf(fm["ci95"][1]) - norm.ppf(max(fm["value"], floor_m))]],
            yerr=[[0], [norm.ppf(fn["ci95"][1]) - norm.ppf(max(fn["value"], floor_n))]],
            fmt="o", color="tab:green", capsize=3, label=f"threshold {t:.4f} (95% CI upper ends)",
        )
        ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95])
        ax.set_xticks(norm.ppf(ticks), [f"{v:g}" for v in ticks], fontsize=7)
        ax.set_yticks(norm.ppf(ticks), [f"{v:g}" for v in ticks], fontsize=7)
        lo = norm.ppf(min(floor_m, floor_n)) - 0.3
        ax.set_xlim(lo, norm.ppf(0.95))
        ax.set_ylim(lo, norm.ppf(0.95))
        ax.grid(True, linestyle=":")
        ax.set_title(f"DET curve (similarities; probit axes). At the threshold: FMR {fm['errors']}/{fm['n']}, "
                     f"FNMR {fn['errors']}/{fn['n']}\nrates of 0 drawn at 0.5/n; {title}", fontsize=8)
        ax.set_xlabel("false match rate (FMR)")
        ax.set_ylabel("false non-match rate (FNMR)")
        ax.legend(fontsize=7, loc="upper right")
        save(fig, "det")

        fig, ax = plt.subplots(figsize=(6, 4))
        model = cal.lr_model()
        grid = np.linspace(min(g.min(), i.min()) - 0.02, max(g.max(), i.max()) + 0.02, 400)
        ax.plot(grid, model.log10_lr_unbounded(grid), ":", color="grey", label=f"{model.kind} (unbounded)")
        ax.plot(grid, model.log10_lr(grid), "-", color="black", label="reported (ELUB-bounded)")
        ax.axvline(t, color="tab:green", linestyle="--", label=f"threshold {t:.4f}")
        ax.scatter(g, np.full(g.size, model.upper + 0.3), marker="|", color="tab:red", label="genuine pairs")
        ax.scatter(i, np.full(i.size, model.lower - 0.3), marker="|", color="tab:blue", label="impostor pairs")
        ax.set_ylim(model.lower - 1, model.upper + 1)
        ax.set_xlabel("cosine similarity")
        ax.set_ylabel("log10 LR")
        ax.set_title(f"Similarity to log10 LR\n{title}", fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
        save(fig, "lr_curve")
    return files


# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Calibration:
    """A fitted calibration for one face model (similarity = cosine similarity of its embeddings)."""

    model: str
    threshold: float  # the decision threshold used by the engine (per ``threshold_rule``)
    threshold_rule: str  # plain words, e.g. "best accuracy on 435 pairs"
    accuracy: float  # at ``threshold``, on the calibration pairs
    eer: float
    eer_threshold: float
    best_accuracy_threshold: float
    fmr_target: float
    threshold_at_fmr: float
    cscore: dict  # {"L", "d0", "k", "b", "bins", "bins_used", "rmse"}
    genuine_scores: list[float]
    impostor_scores: list[float]
    fitted_on: str
    name: str = ""
    created: str = ""
    notes: str = ""
    provenance: dict = field(default_factory=dict)
    lr: dict = field(default_factory=dict)  # the LR calibrator: kind, selection, parameters, ELUB bounds
    evaluation: dict = field(default_factory=dict)  # Cllr, Cllr_min, Cllr_cal, EER, FMR/FNMR with 95% intervals
    warnings: list[str] = field(default_factory=list)  # e.g. a small calibration set
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.model} calibration"
        self._kde = None
        self._lr_model = None
        self._cv = None  # out-of-fold log10 LRs of the chosen calibrator, kept after fitting for the plots

    # ---- likelihood ratio
    def lr_section(self) -> dict:
        """The "lr" section; files written before it existed get it fitted from their stored similarities."""
        if not self.lr:
            self.lr, cv = fit_lr_section(self.genuine_scores, self.impostor_scores)
            self._cv = cv[self.lr["calibrator"]]
            if not self.evaluation:
                self.evaluation = evaluate_lr_system(
                    self.genuine_scores, self.impostor_scores, self.threshold, self.lr, *self._cv, cv["model"]
                )
            self.lr["fitted_at_load"] = True
        return self.lr

    def lr_model(self) -> ScoreToLR:
        """The bounded similarity -> log10 LR map, refitted (deterministically) from the stored similarities.

        Raises:
            ConfigError: the stored parameters or bounds differ from the refit (an edited or mismatched file).
        """
        if self._lr_model is None:
            lr = self.lr_section()
            model = fit_score_to_lr(self.genuine_scores, self.impostor_scores, lr.get("calibrator", "kde"))
            stored = {**lr.get("parameters", {}), "log10_lower": lr.get("bounds", {}).get("log10_lower"),
                      "log10_upper": lr.get("bounds", {}).get("log10_upper")}
            refit = {**model.parameters(), "log10_lower": model.lower, "log10_upper": model.upper}
            for key, value in stored.items():
                if value is None or key not in refit or not math.isclose(value, refit[key], rel_tol=1e-4, abs_tol=1e-6):
                    raise ConfigError(
                        f"calibration {self.name!r}: the stored LR {key} ({value}) does not match the refit from its "
                        f"similarities ({refit.get(key)}); the file was edited or is damaged"
                    )
            self._lr_model = model
        return self._lr_model

    def log10_lr(self, similarity: float) -> tuple[float, float]:
        """(bounded, unbounded) log10 LR of one similarity."""
        model = self.lr_model()
        return float(model.log10_lr(similarity)[0]), float(model.log10_lr_unbounded(similarity)[0])

    # ---- counts
    @property
    def n_genuine(self) -> int:
        return len(self.genuine_scores)

    @property
    def n_impostor(self) -> int:
        return len(self.impostor_scores)

    # ---- confidence
    def c_curve(self, distance: float | np.ndarray) -> np.ndarray:
        """The fitted c(d), clipped to [0, 1]."""
        p = self.cscore
        return np.clip(logistic4(distance, p["L"], p["d0"], p["k"], p["b"]), 0.0, 1.0)

    def cscore_value(self, similarity: float, threshold: float | None = None) -> float:
        """xFace eq. 3: C = c(d) for a genuine decision (d <= t), 1 - c(d) otherwise.

        The fitted curve need not cross 0.5 exactly at the threshold; where it does not, values just beside the
        threshold would fall below 0.5, so C is held in [0.5, 1] as the definition intends.
        """
        t = self.threshold if threshold is None else threshold
        d, t_dist = 1.0 - float(similarity), 1.0 - float(t)
        c = float(self.c_curve(d))
        value = c if d <= t_dist else 1.0 - c
        return float(min(1.0, max(0.5, value)))

    def _densities(self):
        if self._kde is None:
            from scipy.stats import gaussian_kde

            g = np.asarray(self.genuine_scores, dtype=np.float64)
            i = np.asarray(self.impostor_scores, dtype=np.float64)
            if g.size < 2 or i.size < 2 or np.ptp(g) == 0 or np.ptp(i) == 0:
                raise ConfigError("the PIC-score needs at least two distinct genuine and impostor similarities")
            self._kde = (gaussian_kde(g), gaussian_kde(i))
        return self._kde

    def genuine_probability(self, similarity: float) -> float:
        """P(same person | s) from the two densities with equal priors (the PIC-score)."""
        kde_g, kde_i = self._densities()
        lo = min(min(self.genuine_scores), min(self.impostor_scores))
        hi = max(max(self.genuine_scores), max(self.impostor_scores))
        # outside the calibration range the Gaussian tails, not data, would decide: hold s at the range's edge
        s = float(np.clip(similarity, lo, hi))
        log_g, log_i = float(kde_g.logpdf(s)[0]), float(kde_i.logpdf(s)[0])
        diff = np.clip(log_i - log_g, -700.0, 700.0)
        return float(1.0 / (1.0 + math.exp(diff)))

    def pic_score(self, similarity: float, decision: str) -> float:
        """Probability that ``decision`` ("match" / "non-match") is right."""
        p = self.genuine_probability(similarity)
        return p if decision == "match" else 1.0 - p

    # ---- record
    def summary(self) -> dict:
        """The "calibration" block of explanation.json."""
        ev = self.evaluation or {}
        return {
            "name": self.name,
            "fitted_on": self.fitted_on,
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "accuracy": self.accuracy,
            "eer": self.eer,
            "threshold_rule": self.threshold_rule,
            "cllr": ev.get("cllr"),
            "cllr_min": ev.get("cllr_min"),
            "warnings": list(self.warnings),
        }

    def to_dict(self) -> dict:
        d = asdict(self)
        d["n_genuine"], d["n_impostor"] = self.n_genuine, self.n_impostor
        return d

    def check_usable(self) -> None:
        """Load this calibration back from its JSON and use every part once; raise ConfigError if any part fails.

        ``calibrate`` calls this before writing, so that no file is written that a later ``verify`` cannot use.
        """
        copy = Calibration.from_dict(json.loads(json.dumps(self.to_dict())))
        for s in (min(copy.impostor_scores), copy.threshold, max(copy.genuine_scores)):
            values = [copy.cscore_value(s), copy.pic_score(s, "match"), *copy.log10_lr(s)]
            if not all(math.isfinite(v) for v in values):
                raise ConfigError(f"calibration {self.name!r} gives non-finite values at similarity {s:.4f}")

    def save(self, path: str | Path) -> Path:
        """Write the JSON (through a temporary file, so that a failure leaves no half-written calibration)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        known = {f for f in cls.__dataclass_fields__}
        missing = {"model", "threshold", "cscore", "genuine_scores", "impostor_scores"} - set(data)
        if missing:
            raise ConfigError(f"calibration file lacks {sorted(missing)}")
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"calibration file not found: {path}") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"calibration file {path} cannot be read: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"calibration file {path} is not a calibration (a JSON object is expected)")
        return cls.from_dict(data)


def default_calibration_path(model: str) -> Path:
    return CALIBRATIONS_DIR / f"{model}.json"


def load_default_calibration(model: str) -> Calibration | None:
    """The shipped calibration for ``model``, or None when none ships."""
    path = default_calibration_path(model)
    return Calibration.load(path) if path.exists() else None


def fit_calibration(
    genuine: Sequence[float],
    impostor: Sequence[float],
    *,
    model: str,
    fitted_on: str,
    fmr: float = 0.001,
    rule: str = "accuracy",
    name: str = "",
    notes: str = "",
    provenance: dict | None = None,
    calibrator: str | None = None,
) -> Calibration:
    """Fit every part of a :class:`Calibration` from genuine and impostor cosine similarities.

    ``rule`` chooses the decision threshold: "accuracy" (best accuracy on the pairs) or "fmr" (the threshold at
    false-match rate ``fmr``). ``calibrator`` forces the LR calibrator ("logistic" or "kde"); by default the one with
    the lower cross-validated Cllr is used.

    Raises:
        ConfigError: fewer than MIN_PAIRS_PER_CLASS pairs of either kind, constant scores, or a result that would
            not be usable (checked by loading it back).
    """
    # everything is fitted on the similarities exactly as the file stores them, so that a loaded file refits the same
    g = np.round(_as_scores(genuine, "genuine"), SCORE_DECIMALS)
    i = np.round(_as_scores(impostor, "impostor"), SCORE_DECIMALS)
    found_warnings = size_warnings(g.size, i.size)
    if np.ptp(g) == 0 or np.ptp(i) == 0:
        raise ConfigError("the genuine and the impostor similarities must each take at least two distinct values")
    if rule not in ("accuracy", "fmr"):
        raise ConfigError(f"threshold rule must be 'accuracy' or 'fmr', not {rule!r}")
    t_acc, _ = best_accuracy_threshold(g, i)
    t_fmr = threshold_at_fmr(i, fmr)
    eer, t_eer = equal_error_rate(g, i)
    n = g.size + i.size
    if rule == "accuracy":
        threshold, rule_text = t_acc, f"best accuracy on {n} labelled pairs"
    else:
        threshold, rule_text = t_fmr, f"false-match rate {fmr:g} on {i.size} impostor pairs"
    fmr_t, fnmr_t = rates(g, i, np.array([threshold]))
    accuracy = float(((1 - fnmr_t[0]) * g.size + (1 - fmr_t[0]) * i.size) / n)
    lr, cv = fit_lr_section(g, i, calibrator=calibrator)
    llrs, labels = cv[lr["calibrator"]]
    evaluation = evaluate_lr_system(g, i, threshold, lr, llrs, labels, cv["model"])
    cal = Calibration(
        model=model,
        threshold=float(threshold),
        threshold_rule=rule_text,
        accuracy=accuracy,
        eer=eer,
        eer_threshold=t_eer,
        best_accuracy_threshold=t_acc,
        fmr_target=float(fmr),
        threshold_at_fmr=t_fmr,
        cscore=fit_cscore(g, i, threshold),
        genuine_scores=[float(v) for v in g],
        impostor_scores=[float(v) for v in i],
        fitted_on=fitted_on,
        name=name,
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        notes=notes,
        provenance=dict(provenance or {}),
        lr=lr,
        evaluation=evaluation,
        warnings=found_warnings,
    )
    cal._lr_model, cal._cv = cv["model"], (llrs, labels)
    cal.check_usable()
    return cal


# ----------------------------------------------------------------------------------------------------------------
# the labelled pairs file and the `calibrate` output


def calibration_output_paths(out: str | Path | None, model: str) -> tuple[Path, Path, str]:
    """Where ``calibrate --out`` writes: (calibration JSON, plots folder, plot file prefix).

    ``out`` ending in ``.json`` names the file (plots beside it, named ``<stem>.<plot>.png``); any other ``out`` is a
    folder that gets ``calibration.json`` and ``<plot>.png``. Checked before any work is done.

    Raises:
        FaceXError: the folder is an existing file, or the file is an existing folder, or the place is not writable.
    """
    import os

    from models.errors import FaceXError

    target = Path(out) if out else Path(f"calibration-{model}.json")
    if target.suffix.lower() == ".json":
        if target.is_dir():
            raise FaceXError(f"--out {target}: is a folder; give a .json file name or a folder without .json")
        folder, json_path, prefix = target.parent, target, f"{target.stem}."
    else:
        if target.exists() and not target.is_dir():
            raise FaceXError(f"--out {target}: exists and is not a folder")
        folder, json_path, prefix = target, target / "calibration.json", ""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.W_OK):
        raise FaceXError(f"--out {target}: {probe} is not writable")
    return json_path, folder, prefix


def describe_calibration(cal: Calibration) -> list[str]:
    """The lines ``calibrate`` prints: sizes, threshold, LR calibrator choice, Cllr figures, error rates."""
    ev, lr = cal.evaluation, cal.lr_section()
    fmr, fnmr = ev["fmr"], ev["fnmr"]
    cands = ", ".join(f"{k} {v['cllr']:.4f}" for k, v in lr["candidates"].items())
    b = lr["bounds"]
    lines = [
        f"model {cal.model}: {cal.n_genuine} genuine, {cal.n_impostor} impostor pairs",
        f"threshold {cal.threshold:.4f} ({cal.threshold_rule}); accuracy {cal.accuracy:.4f} (in-sample)",
        f"EER {cal.eer:.4f} at {cal.eer_threshold:.4f}; threshold at FMR {cal.fmr_target:g}: {cal.threshold_at_fmr:.4f}",
        (f"FMR at the threshold {fmr['value']:.4f} ({fmr['errors']} of {fmr['n']}; 95% CI {fmr['ci95'][0]:.4f}-"
        f"{fmr['ci95'][1]:.4f}); FNMR {fnmr['value']:.4f} ({fnmr['errors']} of {fnmr['n']}; 95% CI "
        f"{fnmr['ci95'][0]:.4f}-{fnmr['ci95'][1]:.4f}) (Clopper-Pearson)"),
        f"LR calibrator: {lr['calibrator']} ({lr['selection']}; cross-validated Cllr: {cands}; {lr['library']})",
        (f"LR bounds (ELUB): log10 LR in [{b['log10_lower']:.2f}, {b['log10_upper']:.2f}], i.e. LR from "
        f"1/{10 ** -b['log10_lower']:.0f} to {10 ** b['log10_upper']:.0f}"),
        (f"Cllr {ev['cllr']:.4f} (cross-validated), Cllr_min {ev['cllr_min']:.4f}, Cllr_cal {ev['cllr_cal']:.4f}; "
        f"in-sample Cllr {ev['cllr_in_sample']:.4f}"),
    ]
    p = cal.cscore
    lines.append(
        f"C-score logistic: L={p['L']:.4f} d0={p['d0']:.4f} k={p['k']:.2f} b={p['b']:.4f} "
        f"({p['bins_used']} of {p['bins']} bins used, rmse {p['rmse']:.3f})"
    )
    lines += [f"warning: {w}" for w in cal.warnings]
    return lines
