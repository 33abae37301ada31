"""Adaptive seeds for winners: the group-sequential p, its error rate under repeated looks, and the steps.

The error-rate tests run the library's own decision on simulated Gaussian gains; the step tests write held-out
records for a winner and the baseline and walk the checkpoint's start/advance as the workflow does.
"""

import math
from pathlib import Path

import numpy as np
import pytest

from flcampaign.evidence import adaptive_seeds, stats, winners
from flcampaign.evidence.adaptive_seeds import AdaptiveSettings
from flcampaign.files import write_json
from flcampaign.layout import Records

REPEAT = [42, 43, 44, 45, 46]
SETTINGS = AdaptiveSettings(seeds=tuple(range(47, 57)), batch=5)
LOOKS = SETTINGS.looks(len(REPEAT))


def test_plan_of_looks_and_batches():
    assert LOOKS == (5, 10, 15)
    assert SETTINGS.steps() == 2
    assert SETTINGS.batch_seeds(1) == [47, 48, 49, 50, 51] and SETTINGS.batch_seeds(2) == [52, 53, 54, 55, 56]
    assert not AdaptiveSettings().enabled and AdaptiveSettings().looks(5) == (5,)
    assert AdaptiveSettings.from_config({"seeds": [7, 8], "batch": 2, "min_effect": 0.01}).min_effect == 0.01


def test_one_look_is_the_plain_t_test():
    d = [0.03, 0.01, 0.04, -0.005, 0.02]
    plain = stats.t_p_one_sided(float(np.mean(d)), float(np.std(d, ddof=1)) / math.sqrt(5), 5)
    assert adaptive_seeds.sequential_p(d, (5,), 0.05) == pytest.approx(plain, abs=0.002)
    assert adaptive_seeds.boundary((5,), 0.05) == pytest.approx(stats.CONFIRM_LEVEL, abs=0.001)


def test_a_crashed_seed_leaves_the_look_short_not_void():
    d = [0.05, 0.04, 0.06, 0.05]  # the fifth repeat seed crashed
    assert adaptive_seeds.sequential_p(d, LOOKS, 0.05) < 0.01
    assert adaptive_seeds.sequential_p(d[:1], LOOKS, 0.05) == 1.0


def test_more_looks_make_each_stricter():
    """Pocock's constant boundary (every weight 1): three looks at one-sided 2.5% need a nominal p near 1% each;
    the default weights keep most of the level at the first look."""
    assert 0.02 < adaptive_seeds.boundary(LOOKS, SETTINGS.later_weight) < stats.CONFIRM_LEVEL
    assert 0.008 < adaptive_seeds.boundary(LOOKS, 1.0) < 0.013
    d = list(np.random.default_rng(1).normal(0.02, 0.02, 5))
    assert adaptive_seeds.sequential_p(d, LOOKS, 0.05) > adaptive_seeds.sequential_p(d, (5,), 0.05)


def _rates(effect: float, paths: int, seed: int) -> tuple[float, float]:
    """(the adaptive rule's rate of separating a gain, testing each look at the plain level) on Gaussian gains."""
    rng = np.random.default_rng(seed)
    settings = AdaptiveSettings(seeds=SETTINGS.seeds, batch=5, min_effect=0.0)  # the most looks the rule takes
    adaptive = naive = 0
    for path in rng.normal(effect, 1.0, (paths, LOOKS[-1])):
        for n in LOOKS:
            decision = adaptive_seeds.decide(list(path[:n]), LOOKS, settings)
            if decision["status"] != adaptive_seeds.EXTENDED:
                adaptive += decision["status"] == adaptive_seeds.SEPARATED
                break
        naive += any(adaptive_seeds.t_p_one_sided(path[:n]) < stats.CONFIRM_LEVEL for n in LOOKS)
    return adaptive / paths, naive / paths


def test_looking_again_keeps_the_error_rate():
    """Under the null the adaptive rule separates a gain at most at the level; the same looks with the plain t test
    (what adding seeds and testing again would do) separate about twice as often."""
    paths = 6000
    adaptive, naive = _rates(0.0, paths, seed=3)
    se = math.sqrt(0.025 * 0.975 / paths)
    assert adaptive <= stats.CONFIRM_LEVEL + 3 * se
    assert naive > stats.CONFIRM_LEVEL + 4 * se


def test_added_seeds_find_what_five_miss():
    """A true gain of 0.8 sd: five seeds at the plain level find it 28% of the time; up to fifteen about 46%."""
    adaptive, _ = _rates(0.8, 3000, seed=4)
    five = float(stats.power(0.8, 1.0, 5))
    assert adaptive > five + 0.1


# ---------------------------------------------------------------- the checkpoint's steps on written records

BASE = "base"


def write_held_out(results: Path, cid: str, scores: dict[int, float]) -> None:
    for seed, score in scores.items():
        write_json(results / "runs" / "repeat" / cid / f"seed{seed}" / "heldout.json", {"state": "ok", "score": score})


@pytest.fixture()
def campaign(tmp_path) -> Path:
    results = tmp_path / "results"
    rng = np.random.default_rng(7)
    base = {s: 0.75 + float(rng.normal(0, 0.03)) for s in [*REPEAT, *SETTINGS.seeds]}
    write_held_out(results, BASE, base)
    noisy = [0.06, -0.01, 0.07, 0.0, 0.05] + [0.05, 0.02, 0.06, 0.03, 0.04] * 2  # promising, not separated at 5
    write_held_out(
        results, "promising", {s: base[s] + g for s, g in zip([*REPEAT, *SETTINGS.seeds], noisy, strict=True)}
    )
    write_held_out(results, "clear", {s: base[s] + 0.05 + 0.001 * i for i, s in enumerate(REPEAT)})
    write_held_out(results, "worse", {s: base[s] - 0.02 + 0.01 * (i % 2) for i, s in enumerate(REPEAT)})
    return results


def selection_of(*cids: str) -> dict:
    return {"baseline": BASE, "winners": [{"candidate": c, "reasons": []} for c in cids]}


def test_steps_extend_only_the_promising_winner(heart_task, campaign):
    records = Records(campaign)
    state = adaptive_seeds.start(heart_task, selection_of("promising", "clear", "worse"), records, REPEAT, SETTINGS)
    decided = {cid: adaptive_seeds.last_decision(state, cid)["status"] for cid in state["arms"]}
    assert decided == {
        "promising": adaptive_seeds.EXTENDED,
        "clear": adaptive_seeds.SEPARATED,
        "worse": adaptive_seeds.BELOW_EFFECT,
    }
    assert state["next_arms"] == ["promising"] and state["next_seeds"] == SETTINGS.batch_seeds(1)
    while state["step"] < SETTINGS.steps():
        state = adaptive_seeds.advance(heart_task, state, records, SETTINGS)
    final = adaptive_seeds.last_decision(state, "promising")
    assert final["status"] == adaptive_seeds.SEPARATED and final["seeds"] in (10, 15)
    assert state["arms"]["clear"]["seeds"] == REPEAT
    assert adaptive_seeds.simulations(state) == 2 * (final["seeds"] - len(REPEAT))  # the winner's and the baseline's
    assert adaptive_seeds.added_seeds(state) == list(SETTINGS.seeds[: final["seeds"] - len(REPEAT)])


def test_a_gain_of_exactly_zero_gets_no_seeds_by_default():
    """No spread and no gain: more seeds cannot change it (an explicit min_effect 0 still chases it)."""
    zero = [0.0] * 5
    assert adaptive_seeds.decide(zero, LOOKS, SETTINGS)["status"] == adaptive_seeds.BELOW_EFFECT
    explicit = AdaptiveSettings(seeds=SETTINGS.seeds, min_effect=0.0)
    assert adaptive_seeds.decide(zero, LOOKS, explicit)["status"] == adaptive_seeds.EXTENDED


def test_disabled_plan_adds_nothing(heart_task, campaign):
    state = adaptive_seeds.start(heart_task, selection_of("promising"), Records(campaign), REPEAT, AdaptiveSettings())
    assert state["arms"] == {} and state["next_seeds"] == [] and adaptive_seeds.simulations(state) == 0


def test_evidence_decides_on_the_sequential_p(heart_task, campaign):
    """The winner's held-out test uses every seed it got and the sequential p; Holm takes that p."""
    records = Records(campaign)
    for cid in (BASE, "promising"):  # the search-validation records the evidence also reads
        for seed in [*REPEAT, *SETTINGS.seeds]:
            write_json(records.run_dir("repeat", cid, seed) / "score.json", {"state": "ok", "score": 0.8})
    write_json(records.run_dir("search", "promising", 0) / "score.json", {"state": "ok", "score": 0.9})
    chosen = {**selection_of("promising"), "controls": [], "n_scored_agent_candidates": 1}
    chosen["race"] = {"search_runs": {}, "reference_runs": {}, "simulations": 0, "steps": 0}
    state = adaptive_seeds.start(heart_task, chosen, records, REPEAT, SETTINGS)
    while state["step"] < SETTINGS.steps():
        state = adaptive_seeds.advance(heart_task, state, records, SETTINGS)
    evidence = winners.build(heart_task, chosen, campaign, REPEAT, 0, state)
    (entry,) = evidence["entries"]
    held = entry["heldout_vs_baseline"]
    assert held["n"] == len(entry["seeds"]) > len(REPEAT)
    assert held["p_sequential"] > held["p_t_one_sided"] and held["p_holm"] == held["p_sequential"]
    assert entry["attribution"] == "held-out false positive" or held["confirmed"]
    assert evidence["baseline_seeds"] == [*REPEAT, *adaptive_seeds.added_seeds(state)]
    assert evidence["cost"]["added_seeds"] == adaptive_seeds.simulations(state) > 0
    assert "more seeds" not in winners.to_tsv(evidence).splitlines()[1]
