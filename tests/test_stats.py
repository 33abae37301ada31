"""Unit tests of flcampaign.evidence.stats: paired summaries, the exact sign-flip test, bootstrap and attribution.

Expected values are computed by hand (statistics.md §2 formulas and t table) or by an independent
enumeration / scipy, never by calling the function under test a second way.
"""

import itertools
import math

import numpy as np
import pytest
import scipy.stats

from flcampaign.evidence import stats

# n = 5: d = a - b = [0.02, 0.04, 0.01, 0.05, 0.04]
A5 = [0.82, 0.85, 0.80, 0.88, 0.84]
B5 = [0.80, 0.81, 0.79, 0.83, 0.80]
# n = 3: d = [0.5, 1.0, 1.0]
A3 = [1.0, 2.0, 3.0]
B3 = [0.5, 1.0, 2.0]

T_975 = {3: 4.303, 5: 2.776}  # statistics.md §2 table, t(0.975, n - 1)


def hand_enumerated_p(d: list[float], one_sided: bool) -> float:
    """All 2^n sign patterns, counted with plain Python (tolerance for float ties)."""
    observed = sum(d) / len(d)
    hits = 0
    patterns = list(itertools.product((1, -1), repeat=len(d)))
    for signs in patterns:
        mean = sum(s * x for s, x in zip(signs, d, strict=True)) / len(d)
        if one_sided:
            hits += mean >= observed - 1e-9
        else:
            hits += abs(mean) >= abs(observed) - 1e-9
    return hits / len(patterns)


# ---------------------------------------------------------------- paired(): hand-computed values


def test_paired_n5_matches_hand_computation():
    # d = [0.02, 0.04, 0.01, 0.05, 0.04]; sum 0.16 -> mean 0.032
    # deviations -0.012, 0.008, -0.022, 0.018, 0.008; squares sum 0.00108 -> var 0.00108 / 4
    mean = 0.032
    sd = math.sqrt(0.00108 / 4)
    se = sd / math.sqrt(5)
    half = T_975[5] * se
    summary = stats.paired(A5, B5)
    assert summary.n == 5
    assert summary.mean == pytest.approx(mean, abs=1e-12)
    assert summary.sd == pytest.approx(sd, rel=1e-9)
    assert summary.se == pytest.approx(se, rel=1e-9)
    # the table's t is rounded to 3 decimals: 5e-4 * se ~ 4e-6 at most
    assert summary.ci_low == pytest.approx(mean - half, abs=1e-5)
    assert summary.ci_high == pytest.approx(mean + half, abs=1e-5)
    assert summary.ci_low == pytest.approx(0.011601, abs=1e-5)
    assert summary.ci_high == pytest.approx(0.052399, abs=1e-5)
    assert summary.ci_low > 0


def test_paired_n3_matches_hand_computation():
    # d = [0.5, 1.0, 1.0]; mean 2.5 / 3; squares of deviations sum 1/9 + 1/36 + 1/36 = 1/6 -> var 1/12
    mean = 2.5 / 3
    sd = math.sqrt(1 / 12)
    se = sd / math.sqrt(3)
    half = T_975[3] * se
    summary = stats.paired(A3, B3)
    assert summary.n == 3
    assert summary.mean == pytest.approx(mean, rel=1e-12)
    assert summary.sd == pytest.approx(sd, rel=1e-9)
    assert summary.se == pytest.approx(se, rel=1e-9)
    assert summary.se != pytest.approx(sd / 3)  # not the s / n mistake
    assert summary.ci_low == pytest.approx(mean - half, abs=1e-4)
    assert summary.ci_high == pytest.approx(mean + half, abs=1e-4)
    # all three differences positive: 1 of 8 patterns one-sided, 2 of 8 two-sided
    assert summary.p_one_sided == pytest.approx(1 / 8)
    assert summary.p_two_sided == pytest.approx(2 / 8)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (A5, B5),
        (A3, B3),
        ([0.71, 0.69, 0.75, 0.70, 0.73, 0.68], [0.70, 0.71, 0.72, 0.69, 0.70, 0.70]),
    ],
)
def test_paired_interval_matches_scipy_ttest_rel(a, b):
    low, high = scipy.stats.ttest_rel(a, b).confidence_interval(0.95)
    summary = stats.paired(a, b)
    assert summary.ci_low == pytest.approx(low, rel=1e-9, abs=1e-12)
    assert summary.ci_high == pytest.approx(high, rel=1e-9, abs=1e-12)


def test_paired_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="matched pairs"):
        stats.paired([0.1, 0.2, 0.3], [0.1, 0.2])


@pytest.mark.parametrize(("a", "b"), [([0.5], [0.4]), ([], [])])
def test_paired_refuses_fewer_than_two_pairs(a, b):
    with pytest.raises(ValueError, match="at least two"):
        stats.paired(a, b)


def test_lower_is_better_orientation_negates_differences():
    high = stats.paired(A5, B5, orientation=1.0)
    low = stats.paired(A5, B5, orientation=-1.0)
    assert low.mean == pytest.approx(-high.mean)
    assert low.sd == pytest.approx(high.sd)
    assert low.ci_low == pytest.approx(-high.ci_high)
    assert low.ci_high == pytest.approx(-high.ci_low)
    assert not low.ci_low > 0
    # candidate always lower: for a loss that is uniformly better -> minimal p
    assert low.p_one_sided == pytest.approx(1.0)
    loss = stats.paired(B5, A5, orientation=-1.0)
    assert loss.mean == pytest.approx(0.032)
    assert loss.p_one_sided == pytest.approx(1 / 32)
    assert loss.ci_low > 0


# ---------------------------------------------------------------- exact sign-flip p


def test_sign_flip_all_positive_n5_is_the_floor():
    d = [0.02, 0.04, 0.01, 0.05, 0.04]
    assert stats.sign_flip_p(d, one_sided=True) == pytest.approx(1 / 32)
    assert stats.sign_flip_p(d, one_sided=False) == pytest.approx(2 / 32)
    assert stats.sign_flip_p(d, one_sided=False) == pytest.approx(0.0625)
    summary = stats.paired(A5, B5)
    assert summary.p_one_sided == pytest.approx(1 / 32)
    assert summary.p_two_sided == pytest.approx(0.0625)


@pytest.mark.parametrize("scale", [1.0, 0.01])
def test_sign_flip_mixed_case_matches_enumeration(scale):
    # |d| = {3, 1, 2, 4, 2}, total 12, observed sum 6. A pattern's sum is 12 - 2 * (flipped magnitudes),
    # so sum >= 6 <=> flipped magnitudes <= 3: {}, {1}, {2}, {2'}, {3}, {1, 2}, {1, 2'} -> 7 of 32
    # (three of them tie with the observed sum). Two-sided adds the mirror images: 14 of 32.
    d = [scale * x for x in (3, -1, 2, 4, -2)]
    assert hand_enumerated_p(d, one_sided=True) == pytest.approx(7 / 32)
    assert hand_enumerated_p(d, one_sided=False) == pytest.approx(14 / 32)
    assert stats.sign_flip_p(d, one_sided=True) == pytest.approx(7 / 32)
    assert stats.sign_flip_p(d, one_sided=False) == pytest.approx(14 / 32)


def test_sign_flip_mixed_case_through_paired():
    reference = [0.70, 0.72, 0.68, 0.71, 0.69]
    candidate = [r + x for r, x in zip(reference, (0.03, -0.01, 0.02, 0.04, -0.02), strict=True)]
    summary = stats.paired(candidate, reference)
    assert summary.p_one_sided == pytest.approx(7 / 32)
    assert summary.p_two_sided == pytest.approx(14 / 32)


def test_sign_flip_negative_mean_one_sided_is_large():
    d = [-0.03, 0.01, -0.02, -0.04, 0.02]  # mirror of the mixed case
    assert stats.sign_flip_p(d, one_sided=True) == pytest.approx(hand_enumerated_p(d, one_sided=True))
    # sum >= -6 fails only for sum < -6, the mirror of sum > 6 (the 4 non-tied patterns above) -> 28 / 32
    assert stats.sign_flip_p(d, one_sided=True) == pytest.approx(28 / 32)
    assert stats.sign_flip_p(d, one_sided=False) == pytest.approx(14 / 32)


def test_sign_flip_zero_differences():
    assert stats.sign_flip_p([0.0] * 5, one_sided=True) == 1.0
    assert stats.sign_flip_p([0.0] * 5, one_sided=False) == 1.0
    summary = stats.paired([0.8] * 5, [0.8] * 5)
    assert summary.p_one_sided == 1.0
    assert summary.mean == 0.0
    assert not summary.ci_low > 0


# ---------------------------------------------------------------- bootstrap and describe


def test_bootstrap_is_deterministic_and_brackets_the_mean():
    d = [0.02, 0.04, 0.01, 0.05, 0.04, -0.01, 0.03]
    first = stats.bootstrap_ci(d)
    second = stats.bootstrap_ci(list(d))
    assert first == second
    low, high = first
    mean = sum(d) / len(d)
    assert min(d) <= low < mean < high <= max(d)
    summary = stats.paired([0.5 + x for x in d], [0.5] * len(d))
    assert (summary.boot_low, summary.boot_high) == pytest.approx(first)


def test_bootstrap_wider_level_gives_wider_interval():
    d = [0.02, 0.04, 0.01, 0.05, 0.04, -0.01, 0.03]
    low95, high95 = stats.bootstrap_ci(d, level=0.95)
    low50, high50 = stats.bootstrap_ci(d, level=0.5)
    assert low95 < low50 < high50 < high95


def test_describe_mean_sd_se():
    # mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5 -> var 5 / 3
    result = stats.describe([1.0, 2.0, 3.0, 4.0])
    assert result["n"] == 4
    assert result["mean"] == pytest.approx(2.5)
    assert result["sd"] == pytest.approx(math.sqrt(5 / 3))
    assert result["se"] == pytest.approx(math.sqrt(5 / 3) / 2)


def test_describe_single_value_has_no_sd():
    result = stats.describe([0.7])
    assert result["mean"] == pytest.approx(0.7)
    assert math.isnan(result["sd"])


def test_as_dict_has_every_field():
    d = stats.paired(A5, B5).as_dict()
    assert set(d) == {
        "n",
        "mean",
        "sd",
        "se",
        "ci_low",
        "ci_high",
        "p_one_sided",
        "p_two_sided",
        "p_t_one_sided",
        "boot_low",
        "boot_high",
        "p_sequential",
    }
    assert d["n"] == 5 and d["p_sequential"] is None  # set only where a winner could get added seeds


# ---------------------------------------------------------------- attribution


def test_attribute_heldout_decides_and_the_repeat_names_the_failure():
    # held-out not confirmed: the search-validation repeat says whether the gain held there
    assert stats.attribute(False, False, False) == "selected-run artifact"
    assert stats.attribute(False, False, None) == "selected-run artifact"
    assert stats.attribute(False, True, False) == "held-out false positive"
    assert stats.attribute(False, True, True) == "held-out false positive"


def test_attribute_fixed_surface_tuning_effect():
    assert stats.attribute(True, True, True) == "fixed-surface tuning effect"
    assert stats.attribute(True, False, True) == "fixed-surface tuning effect"


def test_attribute_repeat_supported_gain():
    assert stats.attribute(True, True, False) == "repeat-supported FL-recipe gain"
    # the held-out test confirms even where the small search-validation split cannot
    assert stats.attribute(True, False, False) == "repeat-supported FL-recipe gain"


def test_attribute_without_control_nothing_recovers_the_gain():
    assert stats.attribute(True, True, None) == "repeat-supported FL-recipe gain"


def test_attribution_classes_are_documented():
    assert set(stats.ATTRIBUTIONS) == {
        "repeat-supported FL-recipe gain",
        "fixed-surface tuning effect",
        "selected-run artifact",
        "held-out false positive",
    }


# ---------------------------------------------------------------- t p value, Holm, power


def test_t_p_one_sided_matches_scipy_and_the_interval():
    result = scipy.stats.ttest_rel(A5, B5, alternative="greater")
    summary = stats.paired(A5, B5)
    assert summary.p_t_one_sided == pytest.approx(result.pvalue, rel=1e-9)
    # the 95% interval is above zero exactly when the one-sided p is below 0.025
    assert (summary.ci_low > 0) == (summary.p_t_one_sided < stats.CONFIRM_LEVEL)
    borderline = stats.paired([0.03, -0.01, 0.02, 0.00, 0.01], [0.0] * 5)
    assert (borderline.ci_low > 0) == (borderline.p_t_one_sided < stats.CONFIRM_LEVEL)


def test_t_p_one_sided_without_spread():
    assert stats.paired([1.0, 1.0], [0.5, 0.5]).p_t_one_sided == 0.0
    assert stats.paired([1.0, 1.0], [1.0, 1.0]).p_t_one_sided == 1.0


def test_holm_hand_computed():
    # sorted p: 0.01 (x3) -> 0.03, 0.02 (x2) -> 0.04, 0.04 (x1) -> 0.04; returned in the input order
    assert stats.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    # step-down monotone: a later p never gets a smaller adjusted value than an earlier one
    assert stats.holm([0.01, 0.012]) == pytest.approx([0.02, 0.02])
    assert stats.holm([0.3, 0.5]) == pytest.approx([0.6, 0.6])
    assert stats.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])
    assert stats.holm([0.01]) == [0.01]
    assert stats.holm([]) == []


def test_power_matches_a_monte_carlo_of_the_paired_t_test():
    rng = __import__("numpy").random.default_rng(7)
    n, sd, effect = 5, 0.04, 0.05
    draws = rng.normal(effect, sd, size=(40_000, n))
    found = (scipy.stats.ttest_1samp(draws, 0.0, axis=1, alternative="greater").pvalue < 0.025).mean()
    assert stats.power(effect, sd, n) == pytest.approx(found, abs=0.01)
    null = rng.normal(0.0, sd, size=(40_000, n))
    assert (scipy.stats.ttest_1samp(null, 0.0, axis=1, alternative="greater").pvalue < 0.025).mean() == (
        pytest.approx(stats.power(0.0, sd, n), abs=0.004)
    )
    assert stats.power(0.0, sd, n) == pytest.approx(0.025, abs=1e-9)


def test_minimum_detectable_effect_has_the_target_power_and_scales_with_sd():
    mde = stats.minimum_detectable_effect(0.04, 5)
    assert stats.power(mde, 0.04, 5) == pytest.approx(0.8, abs=1e-6)
    # the normal approximation (z 0.975 + z 0.8) * sd / sqrt(n) is a lower bound for the t test at n = 5
    assert mde > (1.95996 + 0.84162) * 0.04 / math.sqrt(5)
    assert stats.minimum_detectable_effect(0.08, 5) == pytest.approx(2 * mde, rel=1e-6)
    assert stats.minimum_detectable_effect(0.04, 20) < mde


def test_sd_ratio_matches_the_f_distribution_by_hand():
    """F(2, 2): cdf x / (1 + x), so its 97.5% point is 39 and a variance ratio of 4 has two-sided p 2 / 5."""
    result = stats.sd_ratio([1.0, 2.0, 3.0], [2.0, 4.0, 6.0])
    assert result["sd_ratio"] == pytest.approx(2.0)
    assert result["ci_low"] == pytest.approx(math.sqrt(4 / 39)) and result["ci_high"] == pytest.approx(math.sqrt(156))
    assert result["p"] == pytest.approx(0.4)


def test_sd_ratio_test_keeps_its_level_on_equal_spreads():
    rng = np.random.default_rng(5)
    ps = [stats.sd_ratio(list(rng.normal(size=10)), list(rng.normal(size=10)))["p"] for _ in range(4000)]
    assert np.mean(np.array(ps) < 0.05) == pytest.approx(0.05, abs=0.012)
