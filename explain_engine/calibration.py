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

A calibration is saved as JSON (numbers only: the fitted parameters and the pair similarities the densities are
rebuilt from, plus where they came from). Shipped calibrations live in ``explain_engine/calibrations/<model>.json``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models.errors import ConfigError

CALIBRATIONS_DIR = Path(__file__).resolve().parent / "calibrations"
HISTOGRAM_BINS = 400  # xFace section 3.1
SCHEMA = "facex-calibration/1"

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
    schema: str = SCHEMA

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.model} calibration"
        self._kde = None

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
        return {
            "name": self.name,
            "fitted_on": self.fitted_on,
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "accuracy": self.accuracy,
            "eer": self.eer,
            "threshold_rule": self.threshold_rule,
        }

    def to_dict(self) -> dict:
        d = asdict(self)
        d["n_genuine"], d["n_impostor"] = self.n_genuine, self.n_impostor
        return d

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
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
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"calibration file not found: {path}") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"calibration file {path} cannot be read: {exc}") from None
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
) -> Calibration:
    """Fit every part of a :class:`Calibration` from genuine and impostor cosine similarities.

    ``rule`` chooses the decision threshold: "accuracy" (best accuracy on the pairs) or "fmr" (the threshold at
    false-match rate ``fmr``).
    """
    g, i = _as_scores(genuine, "genuine"), _as_scores(impostor, "impostor")
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
    return Calibration(
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
        genuine_scores=[round(float(v), 7) for v in g],
        impostor_scores=[round(float(v), 7) for v in i],
        fitted_on=fitted_on,
        name=name,
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        notes=notes,
        provenance=dict(provenance or {}),
    )
