"""Paired statistics over matched seeds: the numbers behind every repeat and held-out claim.

Differences are oriented so that positive means better (the sign is flipped for metrics where
lower is better). With n = 5 seeds the exact sign-flip test cannot go below p = 1/32 one-sided or
2/32 = 0.0625 two-sided, so the report states which test was used.
"""

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 20261124
CONFIRM_LEVEL = 0.025  # one-sided: a gain is separated from zero when its 95% two-sided t interval is above zero
TARGET_POWER = 0.8


@dataclass(frozen=True)
class PairedSummary:
    n: int
    mean: float
    sd: float
    se: float
    ci_low: float
    ci_high: float
    p_one_sided: float
    p_two_sided: float
    p_t_one_sided: float  # paired t test, one-sided: below CONFIRM_LEVEL exactly when ci_low > 0
    boot_low: float
    boot_high: float
    p_sequential: float | None = None  # the group-sequential p when the arm could get added seeds (adaptive_seeds)

    def as_dict(self) -> dict:
        return asdict(self)


def describe(values: list[float]) -> dict[str, float]:
    """Mean, sample sd (n - 1) and standard error (sd / sqrt(n)) of one arm."""
    array = np.asarray(values, dtype=float)
    sd = float(array.std(ddof=1)) if len(array) > 1 else math.nan
    return {"n": len(array), "mean": float(array.mean()), "sd": sd, "se": sd / math.sqrt(len(array))}


def sign_flip_p(differences: list[float], one_sided: bool = True) -> float:
    """Exact permutation p over all 2^n sign patterns (H0: each difference symmetric around 0)."""
    d = np.asarray(differences, dtype=float)
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
    means = (signs * d).mean(axis=1)
    observed = d.mean()
    hits = means >= observed - 1e-12 if one_sided else np.abs(means) >= abs(observed) - 1e-12
    return float(hits.mean())


def bootstrap_ci(differences: list[float], level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of resampled means (fixed RNG, so reports reproduce): a robustness check."""
    d = np.asarray(differences, dtype=float)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = d[rng.integers(0, len(d), size=(BOOTSTRAP_RESAMPLES, len(d)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def sd_ratio(first: list[float], second: list[float], level: float = 0.95) -> dict[str, float]:
    """How much larger the second sample's sd is than the first's, with the F interval of that ratio and the
    two-sided F test's p (normal samples): whether an added source of variance shows in the spread."""
    a, b = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    ratio = float(b.var(ddof=1) / a.var(ddof=1))
    dfn, dfd = len(b) - 1, len(a) - 1
    tail = (1 - level) / 2
    low, high = ratio / scipy_stats.f.ppf(1 - tail, dfn, dfd), ratio / scipy_stats.f.ppf(tail, dfn, dfd)
    p = 2 * min(scipy_stats.f.cdf(ratio, dfn, dfd), scipy_stats.f.sf(ratio, dfn, dfd))
    return {"sd_ratio": math.sqrt(ratio), "ci_low": math.sqrt(low), "ci_high": math.sqrt(high), "p": float(p)}


def t_p_one_sided(mean: float, se: float, n: int) -> float:
    """One-sided p of the paired t test (H0: mean gain <= 0); 0 or 1 when every difference is the same."""
    if se == 0:
        return 0.0 if mean > 0 else 1.0
    return float(scipy_stats.t.sf(mean / se, n - 1))


def wilson(hits: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial rate."""
    if trials == 0:
        return 0.0, 1.0
    z = float(scipy_stats.norm.isf((1 - level) / 2))
    rate = hits / trials
    centre = (rate + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(rate * (1 - rate) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return (0.0 if hits == 0 else centre - half), (1.0 if hits == trials else centre + half)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p values, in the given order: family-wise error at most the level used."""
    m = len(pvalues)
    adjusted, running = [0.0] * m, 0.0
    for rank, index in enumerate(sorted(range(m), key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def power(effect: float, sd: float, n: int, level: float = CONFIRM_LEVEL) -> float:
    """Probability that the one-sided paired t test at ``level`` finds a true mean gain ``effect`` over n seeds
    whose differences have standard deviation ``sd`` (noncentral t)."""
    critical = float(scipy_stats.t.isf(level, n - 1))
    return float(scipy_stats.nct.sf(critical, n - 1, effect * math.sqrt(n) / sd))


def minimum_detectable_effect(sd: float, n: int, target: float = TARGET_POWER, level: float = CONFIRM_LEVEL) -> float:
    """The smallest true mean gain that the paired test over n seeds finds with probability ``target``."""
    from scipy.optimize import brentq

    return float(brentq(lambda effect: power(effect, sd, n, level) - target, 0.0, 50.0 * sd))


def paired(candidate: list[float], reference: list[float], orientation: float = 1.0) -> PairedSummary:
    """Summary of the gains d_i = orientation * (candidate_i - reference_i) over matched seeds, positive when the
    candidate is better (``Task.orientation``: -1 where a lower metric is better)."""
    if len(candidate) != len(reference) or len(candidate) < 2:
        raise ValueError(f"need at least two matched pairs, got {len(candidate)} and {len(reference)}")
    d = orientation * (np.asarray(candidate, dtype=float) - np.asarray(reference, dtype=float))
    n = len(d)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    half = float(scipy_stats.t.ppf(0.975, n - 1)) * se
    boot_low, boot_high = bootstrap_ci(list(d))
    return PairedSummary(
        n=n,
        mean=mean,
        sd=sd,
        se=se,
        ci_low=mean - half,
        ci_high=mean + half,
        p_one_sided=sign_flip_p(list(d), one_sided=True),
        p_two_sided=sign_flip_p(list(d), one_sided=False),
        p_t_one_sided=t_p_one_sided(mean, se, n),
        boot_low=boot_low,
        boot_high=boot_high,
    )


ATTRIBUTIONS = {
    "repeat-supported FL-recipe gain": "the paired gain over the repeat seeds is confirmed on the held-out split and "
    "the best same-budget scalar control does not recover it there",
    "fixed-surface tuning effect": "the held-out gain is confirmed, but the best same-budget scalar control recovers "
    "it: the control's own held-out gain is confirmed and the candidate's gain over the control is not",
    "held-out false positive": "the gain is confirmed on the search-validation repeat but not on the held-out split",
    "selected-run artifact": "the gain is confirmed neither on the held-out split nor on the search-validation "
    "repeat: the search run's gain was the luck of one run",
}
CONFIRMATION = (
    "a gain is confirmed when its one-sided paired t test over the repeat seeds, Holm-adjusted over the winners, is "
    f"below {CONFIRM_LEVEL} (with one winner: its 95% interval lies above zero); the held-out split is the "
    "confirmatory test and the search-validation repeat is reported beside it (docs/statistics.md: the order with "
    "the better measured power at the same false-positive rate)"
)


def attribute(heldout: bool, repeat: bool, recovered_by_control: bool | None) -> str:
    """Attribution class of one winner (Auto-FL-Research) from its confirmed tests: held-out decides, the
    search-validation repeat only names why a gain failed. ``recovered_by_control`` is None without a repeated
    control."""
    if not heldout:
        return "held-out false positive" if repeat else "selected-run artifact"
    if recovered_by_control:
        return "fixed-surface tuning effect"
    return "repeat-supported FL-recipe gain"
