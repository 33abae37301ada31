"""Unit tests of flcampaign.evidence.calibration on constructed seed studies with a known truth.

Scores are drawn from normal distributions whose effects and spreads the test sets, so each rule's
call rate has an analytic value (the paired t test's power) that the measured rate must match.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from flcampaign import cli
from flcampaign.evidence import calibration, racing, seed_study, stats
from flcampaign.execution.sandbox import choose
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent

SD = 0.03  # per-run spread of a score on each split


def study(n_seeds: int, effects: dict[str, float], rng_seed: int = 3) -> calibration.SeedStudy:
    """Baseline on 2 n seeds, each arm on the first n; an arm's gain is the same on both splits and for both
    aggregations, and its runs share the baseline's seed effect (paired designs cancel it)."""
    rng = np.random.default_rng(rng_seed)
    result = calibration.SeedStudy("constructed", 15, {arm: {} for arm in ["baseline", *effects]})
    seed_effect = {seed: rng.normal(0, SD) for seed in range(2 * n_seeds)}

    def runs(gain: float, seed: int) -> dict:
        return {
            split: {agg: 0.7 + gain + seed_effect[seed] + rng.normal(0, SD) for agg in calibration.AGGREGATIONS}
            for split in calibration.STUDY_SPLITS
        }

    for seed in range(2 * n_seeds):
        result.scores.setdefault("baseline", {})[seed] = runs(0.0, seed)
    for arm, gain in effects.items():
        result.scores[arm] = {seed: runs(gain, seed) for seed in range(n_seeds)}
    return result


def test_a_change_is_paired_seed_by_seed_and_a_null_campaign_takes_disjoint_baseline_runs():
    s = study(4, {"plus": 0.05})
    base, arm = s.scores["baseline"], s.scores["plus"]
    candidate, baseline = s.runs("plus")
    key = ("heldout", "pooled")
    assert candidate[key].tolist() == [arm[k]["heldout"]["pooled"] for k in range(4)]
    assert baseline[key].tolist() == [base[k]["heldout"]["pooled"] for k in range(4)]
    assert (s.runs("plus", orientation=-1.0)[0][key] == -candidate[key]).all()
    rng = np.random.default_rng(0)
    rows = calibration.campaigns(s.runs("plus"), False, 3, rng, 100)
    assert rows[key].shape == (4, 3)  # every 3-subset of the 4 matched seeds
    null_runs = s.runs("null")
    assert null_runs[0][key].tolist() == null_runs[1][key].tolist() == [base[k]["heldout"]["pooled"] for k in range(8)]
    gains = calibration.campaigns(null_runs, True, 3, rng, 500)[key]
    values = null_runs[1][key]
    for row in gains[:50]:  # each gain is one baseline run minus another, never a run minus itself
        assert any(abs(row[0] - (a - b)) < 1e-12 for a in values for b in values if a != b)
    assert abs(gains.mean()) < 0.01  # symmetric: which runs play the candidate is arbitrary
    assert s.arm_names() == ["null", "plus"]


def test_separated_is_the_t_interval_rule():
    rows = np.array([[0.05, 0.06, 0.055, 0.045, 0.05], [0.02, -0.03, 0.01, -0.01, 0.0]])
    summaries = [stats.paired(list(row), [0.0] * 5) for row in rows]
    assert calibration.separated(rows).tolist() == [s.ci_low > 0 for s in summaries] == [True, False]


def test_call_rates_match_the_power_of_the_paired_test():
    s = study(300, {"plus": 0.04})
    result = calibration.calibrate(s, 5)
    held = result["arms"]["plus"]["effects"]["heldout/pooled"]
    assert held["mean"] == pytest.approx(0.04, abs=0.006)
    expected = stats.power(held["mean"], held["sd"], 5)  # subsets sample the study's own pairs
    rate = result["arms"]["plus"]["rates"]["held-out alone (search-validation only selects) / pooled"]
    assert rate["rate"] == pytest.approx(expected, abs=0.03)
    assert rate["interval"][0] <= rate["rate"] <= rate["interval"][1]
    both = result["arms"]["plus"]["rates"]["search-validation repeat, then held-out / pooled"]["rate"]
    assert both < rate["rate"]  # two independent hurdles find less than one
    null = result["arms"]["null"]["rates"]
    for key, value in null.items():
        assert value["rate"] <= 0.025 + 0.01, key
    single = null["held-out alone (search-validation only selects) / pooled"]["rate"]
    assert single == pytest.approx(0.025, abs=0.01)  # the test's nominal level on a true null
    assert result["arms"]["null"]["effects"]["heldout/pooled"]["mean"] == 0.0
    assert held["mde"] == pytest.approx(stats.minimum_detectable_effect(held["sd"], 5))


def test_known_effect_shifts_the_mean_gain_and_keeps_the_noise():
    s = study(20, {"plus": 0.01})
    shifted = calibration.with_effect(s.runs("plus"), 0.2)
    for key in calibration.KEYS:
        before = s.runs("plus")[0][key] - s.runs("plus")[1][key]
        after = shifted[0][key] - shifted[1][key]
        assert after.mean() == pytest.approx(0.2)
        assert after.std() == pytest.approx(before.std())


ONE_RUN = racing.RaceSettings(contenders=0, seeds=(), batch=1, alpha=0.1, top_k=2)
RACE = racing.RaceSettings(contenders=4, seeds=(1, 2, 3, 4), batch=2, alpha=0.1, top_k=2)


@pytest.mark.parametrize("race", [ONE_RUN, RACE], ids=["one search run", "racing"])
def test_whole_campaigns_keep_the_aa_rate_and_find_a_large_effect(race):
    s = study(30, {"plus": 0.0})
    result = calibration.campaign_rates(s, 5, 6, race, (0.3,), trials=1000)
    aa = result["aa_rate"]
    assert aa["rate"] <= 0.05 and aa["interval"][0] <= aa["rate"] <= aa["interval"][1]
    large = result["known"]["plus at +0.3"]
    # ten spreads of a search run ahead of every null: always selected, always confirmed, never dropped
    assert large["selected"]["rate"] > 0.98 and large["confirmed"]["rate"] > 0.97
    assert large["dropped"]["rate"] < 0.01 and large["null_confirmed"]["rate"] <= 0.05
    assert (result["aa_race_simulations"] > 0) == (race is RACE)


def test_racing_selects_a_moderate_effect_more_often_than_one_search_run():
    """About one run's spread ahead of seven nulls: one run ranks it by luck, the race on four more seeds does not;
    the race spends its seeds only on contenders, fewer than every contender on every seed (4 x 4)."""
    s = study(30, {"plus": 0.0})
    rates = {race: calibration.campaign_rates(s, 5, 8, race, (0.05,), trials=1500) for race in (ONE_RUN, RACE)}
    one, raced = (rates[race]["known"]["plus at +0.05"] for race in (ONE_RUN, RACE))
    assert raced["selected"]["rate"] > one["selected"]["rate"] + 0.1, (one, raced)
    assert raced["confirmed"]["rate"] > one["confirmed"]["rate"]  # the repeats' power caps this one
    assert raced["dropped"]["rate"] < 0.1
    assert rates[RACE]["aa_rate"]["rate"] <= 0.05
    assert 0 < raced["race_simulations"] < 4 * 4 + 4


def test_whole_campaigns_refuse_a_study_too_small_for_them():
    with pytest.raises(ValueError, match="too few runs"):
        calibration.campaign_rates(study(5, {"plus": 0.0}), 5, 6, RACE, ())


def test_wilson_interval_hand_values():
    low, high = stats.wilson(10, 100)  # 0.1 of 100: 0.0552 to 0.1744 (Wilson 1927; standard tables)
    assert (low, high) == (pytest.approx(0.0552, abs=1e-4), pytest.approx(0.1744, abs=1e-4))
    assert stats.wilson(0, 50)[0] == 0.0 and stats.wilson(50, 50)[1] == 1.0


def calibrate_campaigns(tmp_path, capsys, n_seeds: int) -> tuple[str, dict]:
    """(printed, saved) of `flcampaign calibrate` with whole campaigns on a study of ``n_seeds`` seeds."""
    path = tmp_path / "study.json"
    path.write_text(json.dumps(study(n_seeds, {"plus": 0.05}).as_dict()))
    command = ["calibrate", str(path), "--seeds", "4", "--known-effect", "0.1", "--campaigns", "3"]
    assert cli.main([*command, "--out", str(tmp_path / "cal.json")]) == 0
    return capsys.readouterr().out, json.loads((tmp_path / "cal.json").read_text())


def test_calibrate_command_prints_and_writes(tmp_path, capsys):
    out, saved = calibrate_campaigns(tmp_path, capsys, 10)
    assert "held-out alone" in out and "plus" in out and "null" in out and "plus at +0.1" in out
    assert "whole campaigns: 3 candidates, one search run each, top 2" in out
    assert "whole campaigns: 3 candidates, the top 4 raced on 4 more search seeds in batches of 2" in out
    assert saved["seeds_per_campaign"] == 4 and set(saved["arms"]) == {"null", "plus", "plus at +0.1"}
    assert [set(c["known"]) for c in saved["campaigns"]] == [{"plus at +0.1"}] * 2
    assert "with 10 added seeds left out: the study has too few runs" in out  # 10 seeds cannot hold them


def test_calibrate_command_adds_seeds_to_winners_when_the_study_holds_them(tmp_path, capsys):
    out, saved = calibrate_campaigns(tmp_path, capsys, 24)
    assert "top 2 repeated on 4 seeds (+ up to 10 added in batches of 5, group-sequential)" in out
    adaptive = saved["campaigns"][2]
    assert adaptive["adaptive"]["batch"] == 5 and adaptive["aa_rate"]["rate"] <= 0.1
    assert 0 <= adaptive["known"]["plus at +0.1"]["confirmed_fixed"]["rate"] <= 1


def test_calibrate_command_names_a_bad_study(tmp_path, capsys):
    path = tmp_path / "study.json"
    path.write_text("{not json")
    assert cli.main(["calibrate", str(path)]) == 2
    assert "study.json" in capsys.readouterr().err


@pytest.mark.slow
def test_a_real_seed_study_at_one_round_is_resumed_and_calibrated(tmp_path):
    """Real NVFlare runs through the runner and the evaluator (one round, a change of a four times larger lr):
    every run scored on both splits and aggregations, saved as it goes, resumed without re-running."""
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease", num_rounds=1)
    arms = {"baseline": {}, "lr-x4": {"lr": 0.004}}
    out, lines = tmp_path / "study.json", []
    study = seed_study.run_study(task, arms, 2, out, choose("auto"), progress=lines.append)
    assert len(lines) == 6 and sorted(study.scores) == ["baseline", "lr-x4"]
    assert sorted(study.scores["baseline"]) == [1000, 1001, 1002, 1003]
    assert sorted(study.scores["lr-x4"]) == [1000, 1001]
    for runs in study.scores.values():
        for by_split in runs.values():
            assert set(by_split) == set(calibration.STUDY_SPLITS)
            for scores in by_split.values():
                assert set(scores) == set(calibration.AGGREGATIONS)
                assert all(0.0 <= value <= 1.0 for value in scores.values())
    assert calibration.SeedStudy.from_dict(json.loads(out.read_text())) == study
    again = seed_study.run_study(task, arms, 2, out, choose("auto"), progress=lines.append)
    assert len(lines) == 6 and again == study  # nothing left to run
    result = calibration.calibrate(again, 2)
    assert set(result["arms"]) == {"null", "lr-x4"}
    effect = result["arms"]["lr-x4"]["effects"]["heldout/pooled"]
    assert effect["seeds"] == 2 and effect["mean"] == pytest.approx(
        float(
            np.mean(
                [
                    again.scores["lr-x4"][s]["heldout"]["pooled"] - again.scores["baseline"][s]["heldout"]["pooled"]
                    for s in (1000, 1001)
                ]
            )
        )  # fmt: skip
    )


@pytest.mark.slow
def test_a_study_can_give_each_seed_its_own_partition(tmp_path, monkeypatch):
    """bench/partition_variance.py's study: each seed trains and is scored on its own FEMNIST grouping, as
    repeats do under repeats.vary_partition; the study says so and cannot be resumed the other way."""
    task = Task.load(REPO / "flcampaign" / "tasks" / "femnist", num_rounds=1)
    trained_on, simulate = [], seed_study.simulate

    def recording(task, validation, tree, train_dir, *args, **kwargs):
        trained_on.append(Path(train_dir).parent.name)
        return simulate(task, validation, tree, train_dir, *args, **kwargs)

    monkeypatch.setattr(seed_study, "simulate", recording)
    out = tmp_path / "varied.json"
    study = seed_study.run_study(
        task, {"baseline": {}}, 1, out, choose("auto"), progress=lambda _: None, vary_partition=True
    )
    assert sorted(trained_on) == ["partition-1000", "partition-1001"]
    assert study.partitions and sorted(study.scores["baseline"]) == [1000, 1001]
    assert calibration.SeedStudy.from_dict(json.loads(out.read_text())) == study
    with pytest.raises(seed_study.StudyError, match="partitions varied = True"):
        seed_study.run_study(task, {"baseline": {}}, 1, out, choose("auto"), progress=lambda _: None)


def test_an_arm_the_contract_refuses_stops_the_study_before_any_run(heart_task, tmp_path):
    with pytest.raises(seed_study.StudyError, match="lr-bad"):
        seed_study.run_study(heart_task, {"baseline": {}, "lr-bad": {"lr": 5.0}}, 1, tmp_path / "s.json", choose("off"))
    assert not (tmp_path / "s.json").exists()
