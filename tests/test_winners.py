"""Unit tests of flcampaign.evidence.winners on fake run records: pairing, attribution, TSV/JSON and the noise floor.

Every record is written by the test (score.json / heldout.json / validation.json / global_model.pt);
nothing is simulated. Expected summaries come from stats.paired on the numbers the test wrote.
"""

import copy
import csv
import io
import json
import statistics
from pathlib import Path

import pytest
import torch
from conftest import REPO, one_run_race, with_direction

from flcampaign.evidence import racing, stats, winners
from flcampaign.evidence.controls import BEST_CONTROL
from flcampaign.files import read_json, write_json
from flcampaign.records import ledger_row
from flcampaign.reporting.report import ledger_section, race_section
from flcampaign.task import Task

SEEDS = [42, 43, 44, 45, 46]
SEARCH_SEED = 0
BASE = "base"
BASE_SCORES = [0.80, 0.81, 0.79, 0.82, 0.80]
BASE_HELDOUT = [0.78, 0.79, 0.77, 0.80, 0.78]
CONTROL_GAIN = (0.010, 0.012, 0.008, 0.011, 0.009)  # best control over the baseline, per seed
CONTROL_HELD_GAIN = (0.010, 0.010, 0.010, 0.010, 0.010)


def plus(values, gains) -> list[float]:
    return [v + g for v, g in zip(values, gains, strict=True)]


CONTROL_SCORES = plus(BASE_SCORES, CONTROL_GAIN)
CONTROL_HELDOUT = plus(BASE_HELDOUT, CONTROL_HELD_GAIN)


def plain(summary: dict) -> dict:
    """A paired summary without what the multiplicity correction added to it."""
    return {k: v for k, v in summary.items() if k not in ("p_holm", "confirmed")}


# winner -> (repeat gain over baseline, held-out gain over baseline, search score, expected class)
WINNERS = {
    "gain": (
        (0.05, 0.06, 0.055, 0.045, 0.05),
        (0.04, 0.05, 0.045, 0.04, 0.05),
        0.88,
        "repeat-supported FL-recipe gain",
    ),
    "tuning": (
        # = control gain + (0.002, -0.002, 0.001, 0.001, -0.001): not separated from the control
        (0.012, 0.010, 0.009, 0.012, 0.008),
        (0.010, 0.012, 0.011, 0.009, 0.010),
        0.86,
        "fixed-surface tuning effect",
    ),
    "heldfp": (
        (0.05, 0.06, 0.055, 0.045, 0.05),
        (0.01, -0.02, 0.005, -0.01, 0.0),
        0.87,
        "held-out false positive",
    ),
    "artifact": (
        (0.02, -0.03, 0.01, -0.01, 0.0),
        (0.02, -0.01, 0.0, 0.01, -0.02),
        0.90,
        "selected-run artifact",
    ),
}
CONTROLS = [
    {"id": "_ctl-001", "args": {"lr": 0.01, "local_steps": 50}},
    {"id": "_ctl-002", "args": {"lr": 0.003, "local_steps": 200}},
]
CONTROL_SEARCH = {"_ctl-001": 0.81, "_ctl-002": 0.83}


def score_record(results: Path, phase: str, cid: str, seed: int, name: str, score: float | None, state="ok"):
    record = {"state": state, "score": score} if state == "ok" else {"state": state, "reason": "scripted"}
    write_json(results / "runs" / phase / cid / f"seed{seed}" / name, record)


def write_arm(results: Path, cid: str, scores: list[float], heldout: list[float], crashed=()) -> None:
    for seed, score, held in zip(SEEDS, scores, heldout, strict=True):
        state = "crash" if seed in crashed else "ok"
        score_record(results, "repeat", cid, seed, "score.json", score, state)
        score_record(results, "repeat", cid, seed, "heldout.json", held, state)


def selection() -> dict:
    return {
        "baseline": BASE,
        "winners": [{"candidate": cid, "reasons": [f"top-{i} by search score"]} for i, cid in enumerate(WINNERS, 1)],
        "controls": copy.deepcopy(CONTROLS),
        "n_scored_agent_candidates": len(WINNERS),
        "race": one_run_race({cid: search for cid, (_, _, search, _) in WINNERS.items()}, (BASE, 0.80)),
    }


def make_results(root: Path, crashed: dict[str, tuple[int, ...]] | None = None, control: bool = True) -> Path:
    results = root / "results"
    crashed = crashed or {}
    write_arm(results, BASE, BASE_SCORES, BASE_HELDOUT, crashed.get(BASE, ()))
    for cid, (gain, held_gain, search, _) in WINNERS.items():
        write_arm(results, cid, plus(BASE_SCORES, gain), plus(BASE_HELDOUT, held_gain), crashed.get(cid, ()))
        score_record(results, "search", cid, SEARCH_SEED, "score.json", search)
    if not control:
        return results
    write_arm(results, BEST_CONTROL, CONTROL_SCORES, plus(BASE_HELDOUT, CONTROL_HELD_GAIN))
    for cid, search in CONTROL_SEARCH.items():
        score_record(results, "control", cid, SEARCH_SEED, "score.json", search)
    write_json(
        results / "candidates" / BEST_CONTROL / "validation.json",
        {"candidate": BEST_CONTROL, "state": "ok", "source_control": "_ctl-002", "source_score": 0.83},
    )
    return results


def entry(evidence: dict, cid: str) -> dict:
    (found,) = [e for e in evidence["entries"] if e["candidate"] == cid]
    return found


@pytest.fixture()
def results(tmp_path) -> Path:
    return make_results(tmp_path)


@pytest.fixture()
def evidence(heart_task, results) -> dict:
    return winners.build(heart_task, selection(), results, SEEDS, SEARCH_SEED)


# ---------------------------------------------------------------- build()


def test_build_entries_and_roles(evidence):
    assert [e["candidate"] for e in evidence["entries"]] == [*WINNERS, BEST_CONTROL]
    assert [e["role"] for e in evidence["entries"]] == ["winner"] * 4 + ["best control"]
    assert entry(evidence, "gain")["reasons"] == ["top-1 by search score"]
    assert evidence["baseline"] == BASE
    assert evidence["repeat_seeds"] == SEEDS
    assert evidence["metric"]["direction"] == "max"


def test_build_per_seed_scores_and_search_score(evidence):
    assert evidence["baseline_scores"] == dict(zip(SEEDS, BASE_SCORES, strict=True))
    assert evidence["baseline_heldout"] == dict(zip(SEEDS, BASE_HELDOUT, strict=True))
    for cid, (gain, held_gain, search, _) in WINNERS.items():
        e = entry(evidence, cid)
        assert e["scores"] == dict(zip(SEEDS, plus(BASE_SCORES, gain), strict=True))
        assert e["heldout"] == dict(zip(SEEDS, plus(BASE_HELDOUT, held_gain), strict=True))
        assert e["search_score"] == search
        assert list(e["diff_per_seed"]) == SEEDS
        assert list(e["diff_per_seed"].values()) == pytest.approx(list(gain), abs=1e-12)
        assert list(e["heldout_diff_per_seed"].values()) == pytest.approx(list(held_gain), abs=1e-12)
        assert e["summary"]["mean"] == pytest.approx(statistics.mean(plus(BASE_SCORES, gain)))
        assert e["summary"]["sd"] == pytest.approx(statistics.stdev(plus(BASE_SCORES, gain)))


def test_build_summaries_equal_stats_paired(evidence):
    for cid, (gain, held_gain, _, _) in WINNERS.items():
        e = entry(evidence, cid)
        scores = plus(BASE_SCORES, gain)
        heldout = plus(BASE_HELDOUT, held_gain)
        assert plain(e["repeat"]) == stats.paired(scores, BASE_SCORES).as_dict()
        assert plain(e["heldout_vs_baseline"]) == stats.paired(heldout, BASE_HELDOUT).as_dict()
        assert plain(e["versus_control"]) == stats.paired(heldout, CONTROL_HELDOUT).as_dict()
        assert e["repeat"]["n"] == 5
        assert e["repeat"]["mean"] == pytest.approx(sum(gain) / 5)


def test_build_attribution_one_winner_per_class(evidence):
    got = {cid: entry(evidence, cid)["attribution"] for cid in WINNERS}
    assert got == {cid: spec[3] for cid, spec in WINNERS.items()}
    assert len(set(got.values())) == 4
    assert evidence["attribution_rules"] == stats.ATTRIBUTIONS


def test_build_best_control_entry(evidence):
    e = entry(evidence, BEST_CONTROL)
    assert e["role"] == "best control"
    assert e["reasons"] == ["best same-budget scalar control by search score", "= _ctl-002"]
    assert e["search_score"] == CONTROL_SEARCH["_ctl-002"]
    assert e["scores"] == dict(zip(SEEDS, CONTROL_SCORES, strict=True))
    assert plain(e["repeat"]) == stats.paired(CONTROL_SCORES, BASE_SCORES).as_dict()
    assert "p_holm" not in e["repeat"]  # the control is not one of the winners' family
    assert e["versus_control"] is None
    assert e["attribution"] == ""
    assert evidence["controls"] == [{**c, "arm": "random", "search_score": CONTROL_SEARCH[c["id"]]} for c in CONTROLS]


def test_build_without_controls_has_no_control_pairing(heart_task, tmp_path):
    results = make_results(tmp_path, control=False)
    chosen = selection()
    chosen["controls"] = []
    evidence = winners.build(heart_task, chosen, results, SEEDS, SEARCH_SEED)
    assert [e["candidate"] for e in evidence["entries"]] == list(WINNERS)
    assert all(e["versus_control"] is None for e in evidence["entries"])
    assert evidence["controls"] == []
    # without a control nothing can recover the tuning winner's gain
    assert entry(evidence, "tuning")["attribution"] == "repeat-supported FL-recipe gain"


def test_a_control_that_gains_nothing_recovers_nothing(heart_task, tmp_path):
    results = make_results(tmp_path)
    # the best control's held-out scores fall to the baseline's: its own gain is not confirmed
    for seed, score in zip(SEEDS, BASE_HELDOUT, strict=True):
        score_record(results, "repeat", BEST_CONTROL, seed, "heldout.json", score - 0.001 * (seed % 2))
    evidence = winners.build(heart_task, selection(), results, SEEDS, SEARCH_SEED)
    assert not entry(evidence, BEST_CONTROL)["heldout_vs_baseline"]["confirmed"]
    assert entry(evidence, "tuning")["attribution"] == "repeat-supported FL-recipe gain"


def test_build_ignores_stale_control_runs_when_selection_has_no_controls(heart_task, results):
    chosen = selection()
    chosen["controls"] = []  # e.g. the campaign was re-run with controls switched off
    evidence = winners.build(heart_task, chosen, results, SEEDS, SEARCH_SEED)
    assert all(e["versus_control"] is None for e in evidence["entries"])
    assert entry(evidence, "tuning")["attribution"] == "repeat-supported FL-recipe gain"


def test_build_leaves_crashed_repeat_seed_out_of_the_pairing(heart_task, tmp_path):
    results = make_results(tmp_path, crashed={"gain": (44,)})
    evidence = winners.build(heart_task, selection(), results, SEEDS, SEARCH_SEED)
    e = entry(evidence, "gain")
    kept = [0, 1, 3, 4]
    gain = WINNERS["gain"][0]
    scores = [plus(BASE_SCORES, gain)[i] for i in kept]
    assert list(e["scores"]) == [42, 43, 45, 46]
    assert list(e["diff_per_seed"]) == [42, 43, 45, 46]
    assert e["repeat"]["n"] == 4
    assert plain(e["repeat"]) == stats.paired(scores, [BASE_SCORES[i] for i in kept]).as_dict()
    assert e["heldout_vs_baseline"]["n"] == 4
    heldout = [plus(BASE_HELDOUT, WINNERS["gain"][1])[i] for i in kept]
    assert plain(e["versus_control"]) == stats.paired(heldout, [CONTROL_HELDOUT[i] for i in kept]).as_dict()
    assert entry(evidence, "tuning")["repeat"]["n"] == 5  # other winners keep all seeds


def test_build_crashed_baseline_seed_drops_that_pair_for_everyone(heart_task, tmp_path):
    results = make_results(tmp_path, crashed={BASE: (46,)})
    evidence = winners.build(heart_task, selection(), results, SEEDS, SEARCH_SEED)
    assert list(evidence["baseline_scores"]) == [42, 43, 44, 45]
    for cid in WINNERS:
        assert entry(evidence, cid)["repeat"]["n"] == 4
        assert list(entry(evidence, cid)["diff_per_seed"]) == [42, 43, 44, 45]


def test_build_fewer_than_two_paired_seeds_cannot_decide(heart_task, tmp_path):
    results = make_results(tmp_path, crashed={"gain": (43, 44, 45, 46)})
    evidence = winners.build(heart_task, selection(), results, SEEDS, SEARCH_SEED)
    e = entry(evidence, "gain")
    assert list(e["scores"]) == [42]
    assert e["repeat"] is None
    assert e["heldout_vs_baseline"] is None
    assert e["versus_control"] is None
    assert e["summary"] is None
    assert e["attribution"] == "not enough repeat runs to decide"


def test_build_direction_min_flips_signs(heart_task, results):
    evidence = winners.build(with_direction(heart_task, "min"), selection(), results, SEEDS, SEARCH_SEED)
    for cid, (gain, held_gain, _, _) in WINNERS.items():
        e = entry(evidence, cid)
        scores = plus(BASE_SCORES, gain)
        assert list(e["diff_per_seed"].values()) == pytest.approx([-g for g in gain], abs=1e-12)
        assert list(e["heldout_diff_per_seed"].values()) == pytest.approx([-g for g in held_gain], abs=1e-12)
        assert plain(e["repeat"]) == stats.paired(scores, BASE_SCORES, -1.0).as_dict()
        assert e["repeat"]["mean"] == pytest.approx(-sum(gain) / 5)
    # higher scores are worse for a loss: the clear repeat gains become clear losses
    assert entry(evidence, "gain")["attribution"] == "selected-run artifact"
    assert entry(evidence, "heldfp")["attribution"] == "selected-run artifact"


def holm_evidence(heart_task, tmp_path, held_gains: dict[str, tuple]) -> dict:
    results = tmp_path / "results"
    write_arm(results, BASE, BASE_SCORES, BASE_HELDOUT)
    for cid, gains in held_gains.items():
        write_arm(results, cid, BASE_SCORES, plus(BASE_HELDOUT, gains))
    chosen = {
        "baseline": BASE,
        "winners": [{"candidate": c, "reasons": []} for c in held_gains],
        "controls": [],
        "n_scored_agent_candidates": len(held_gains),
        "race": one_run_race(dict.fromkeys(held_gains, 0.8), (BASE, 0.8)),
    }
    return winners.build(heart_task, chosen, results, SEEDS, SEARCH_SEED)


def test_holm_over_the_winners_withdraws_confirmations_a_single_test_would_give(heart_task, tmp_path):
    """Two held-out gains each above zero at 95% (one-sided t p 0.0140 and 0.0209): Holm asks 0.0125 of the
    smaller, which fails, so neither is confirmed."""
    gains = {"first": (0.05, 0.005, 0.03, 0.02, 0.02), "second": (0.05, 0.0, 0.03, 0.02, 0.02)}
    evidence = holm_evidence(heart_task, tmp_path, gains)
    held = {c: entry(evidence, c)["heldout_vs_baseline"] for c in gains}
    assert held["first"]["p_t_one_sided"] == pytest.approx(0.014009, abs=1e-5)
    assert held["second"]["p_t_one_sided"] == pytest.approx(0.020897, abs=1e-5)
    assert all(h["ci_low"] > 0 for h in held.values())
    assert held["first"]["p_holm"] == pytest.approx(2 * 0.014009, abs=1e-5)
    assert held["second"]["p_holm"] == pytest.approx(2 * 0.014009, abs=1e-5)  # step-down: never below the first
    assert not held["first"]["confirmed"] and not held["second"]["confirmed"]
    assert {entry(evidence, c)["attribution"] for c in gains} == {"selected-run artifact"}
    assert evidence["multiplicity"] == {
        "correction": "Holm", "level": stats.CONFIRM_LEVEL, "family": 2,
        "changed": ["first: heldout vs baseline", "second: heldout vs baseline"],
    }  # fmt: skip


def test_holm_keeps_both_when_the_smaller_p_passes_its_stricter_level(heart_task, tmp_path):
    gains = {"clear": (0.03, 0.01, 0.02, 0.025, 0.015), "second": (0.05, 0.0, 0.03, 0.02, 0.02)}  # p 0.0024, 0.0209
    evidence = holm_evidence(heart_task, tmp_path, gains)
    assert all(entry(evidence, c)["heldout_vs_baseline"]["confirmed"] for c in gains)
    assert entry(evidence, "second")["heldout_vs_baseline"]["p_holm"] == pytest.approx(0.020897, abs=1e-5)
    assert evidence["multiplicity"]["changed"] == []


def test_power_pools_the_paired_spread_of_the_winners(evidence):
    arms = [e for e in evidence["entries"] if e["role"] == "winner"]  # the changes under decision, not the control
    for split, stage in (("search-validation", "repeat"), ("held-out", "heldout_vs_baseline")):
        sds = [statistics.stdev(list(e["diff_per_seed" if stage == "repeat" else "heldout_diff_per_seed"].values()))
               for e in arms]  # fmt: skip
        pooled = (sum(sd**2 for sd in sds) / len(sds)) ** 0.5  # five seeds each: equal weights
        got = evidence["power"][split]
        assert got["paired_sd"] == pytest.approx(pooled)
        assert got["mde"] == pytest.approx(stats.minimum_detectable_effect(pooled, 5))
        assert stats.power(got["mde"], pooled, 5) == pytest.approx(0.8, abs=1e-6)
        assert got["arms"] == len(arms) and got["seeds"] == 5


def test_the_other_site_aggregation_is_paired_beside_the_decision(heart_task, results):
    for seed, base in zip(SEEDS, BASE_HELDOUT, strict=True):
        for cid, extra in ((BASE, 0.0), ("gain", 0.07)):
            path = results / "runs" / "repeat" / cid / f"seed{seed}" / "heldout.json"
            record = read_json(path)
            write_json(path, record | {"pooled": record["score"], "mean_over_sites": base - 0.05 + extra + seed / 1e4})
    evidence = winners.build(heart_task, selection(), results, SEEDS, SEARCH_SEED)
    other = entry(evidence, "gain")["other_aggregation"]
    assert other["heldout_vs_baseline"]["mean"] == pytest.approx(0.07)
    assert other["repeat"] is None  # the search-validation records carry one aggregation only
    assert entry(evidence, "tuning")["other_aggregation"]["heldout_vs_baseline"] is None
    assert evidence["aggregation"] == "pooled" and evidence["other_aggregation"] == "mean over sites"


# ---------------------------------------------------------------- to_tsv()


def test_to_tsv_columns_and_rows(evidence):
    text = winners.to_tsv(evidence)
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    assert tuple(text.splitlines()[0].split("\t")) == winners.TSV_COLUMNS
    assert len(rows) == len(evidence["entries"])
    assert [r["candidate"] for r in rows] == [*WINNERS, BEST_CONTROL]
    gain = next(r for r in rows if r["candidate"] == "gain")
    assert gain["role"] == "winner"
    assert gain["seeds"] == "42,43,44,45,46"
    assert gain["search_score"] == "0.880000"
    assert float(gain["diff_mean"]) == pytest.approx(0.052, abs=1e-6)
    assert float(gain["p_one_sided"]) == pytest.approx(1 / 32, abs=1e-6)
    assert float(gain["p_two_sided"]) == pytest.approx(0.0625, abs=1e-6)
    assert gain["attribution"] == "repeat-supported FL-recipe gain"
    assert [float(x) for x in gain["diff_per_seed"].split(",")] == pytest.approx(list(WINNERS["gain"][0]), abs=1e-6)
    control = next(r for r in rows if r["candidate"] == BEST_CONTROL)
    assert control["reasons"] == "best same-budget scalar control by search score; = _ctl-002"
    assert control["control_heldout_diff_mean"] == ""
    assert float(gain["p_holm"]) == pytest.approx(entry(evidence, "gain")["repeat"]["p_holm"], abs=1e-6)
    assert control["attribution"] == ""


def test_to_tsv_undecided_winner_has_empty_statistics(heart_task, tmp_path):
    results = make_results(tmp_path, crashed={"gain": (43, 44, 45, 46)})
    evidence = winners.build(heart_task, selection(), results, SEEDS, SEARCH_SEED)
    rows = list(csv.DictReader(io.StringIO(winners.to_tsv(evidence)), delimiter="\t"))
    gain = next(r for r in rows if r["candidate"] == "gain")
    assert gain["seeds"] == "42"
    for column in (
        "mean",
        "sd",
        "diff_mean",
        "diff_ci_low",
        "p_one_sided",
        "heldout_diff_mean",
        "control_heldout_ci_low",
    ):
        assert gain[column] == "", column
    assert gain["attribution"] == "not enough repeat runs to decide"


# ---------------------------------------------------------------- noise floor


def save_model(path: Path, state: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": state}, path)


def test_noise_floor_spread_and_same_seed_rerun(results):
    first = results / "runs" / "repeat" / BASE / "seed42" / "global_model.pt"
    again = results / "runs" / "rerun" / BASE / "seed42" / "global_model.pt"
    save_model(first, {"w": torch.tensor([1.0, 2.0, 3.0]), "b": torch.tensor([0.0])})
    save_model(again, {"w": torch.tensor([1.0, 2.5, 2.75]), "b": torch.tensor([-0.75])})
    score_record(results, "rerun", BASE, 42, "score.json", 0.805)
    floor = winners.noise_floor(results, BASE, SEEDS, 42)
    assert floor["baseline"] == BASE
    assert floor["seeds"] == SEEDS
    assert floor["scores"] == BASE_SCORES
    assert floor["n"] == 5
    assert floor["mean"] == pytest.approx(statistics.mean(BASE_SCORES))
    assert floor["sd"] == pytest.approx(statistics.stdev(BASE_SCORES))
    assert floor["se"] == pytest.approx(statistics.stdev(BASE_SCORES) / 5**0.5)
    same = floor["same_seed"]
    assert same["seed"] == 42
    assert same["first"] == 0.80
    assert same["rerun"] == 0.805
    assert same["score_difference"] == pytest.approx(0.005)
    # largest |a - b| over all tensors: |0.0 - (-0.75)| in "b" beats 0.5 and 0.25 in "w"
    assert same["max_weight_difference"] == pytest.approx(0.75)


def test_max_weight_difference_identical_models_is_zero(tmp_path):
    state = {"w": torch.tensor([[0.1, -0.2], [0.3, 0.4]])}
    save_model(tmp_path / "a.pt", state)
    save_model(tmp_path / "b.pt", {"w": state["w"].clone()})
    assert winners.max_weight_difference(tmp_path / "a.pt", tmp_path / "b.pt") == 0.0


def test_noise_floor_without_rerun_has_no_same_seed_block(results):
    floor = winners.noise_floor(results, BASE, SEEDS, 42)
    assert "same_seed" not in floor
    assert floor["sd"] == pytest.approx(statistics.stdev(BASE_SCORES))


def test_noise_floor_crashed_seed_left_out(tmp_path):
    results = make_results(tmp_path, crashed={BASE: (43,)})
    floor = winners.noise_floor(results, BASE, SEEDS, 42)
    expected = [s for seed, s in zip(SEEDS, BASE_SCORES, strict=True) if seed != 43]
    assert floor["seeds"] == [42, 44, 45, 46]
    assert floor["n"] == 4
    assert floor["sd"] == pytest.approx(statistics.stdev(expected))


# ---------------------------------------------------------------- write() and the test note


def test_write_writes_tsv_and_json_that_round_trip(heart_task, results, tmp_path):
    save_model(results / "runs" / "repeat" / BASE / "seed42" / "global_model.pt", {"w": torch.zeros(3)})
    save_model(results / "runs" / "rerun" / BASE / "seed42" / "global_model.pt", {"w": torch.zeros(3)})
    score_record(results, "rerun", BASE, 42, "score.json", 0.80)
    tsv, out_json = tmp_path / "out" / "winners.tsv", tmp_path / "out" / "winners.json"
    evidence = winners.write(heart_task, selection(), results, SEEDS, SEARCH_SEED, 42, tsv, out_json)
    assert tsv.read_text(encoding="utf-8") == winners.to_tsv(evidence)
    loaded = read_json(out_json)
    assert loaded == json.loads(json.dumps(evidence))  # JSON turns the seed keys into strings, nothing else
    assert loaded["noise_floor"]["same_seed"]["max_weight_difference"] == 0.0
    assert loaded["noise_floor"]["sd"] == pytest.approx(statistics.stdev(BASE_SCORES))
    for saved, built in zip(loaded["entries"], evidence["entries"], strict=True):
        assert saved["candidate"] == built["candidate"]
        assert {int(k): v for k, v in saved["scores"].items()} == built["scores"]
        assert saved["repeat"] == built["repeat"]
        assert saved["attribution"] == built["attribution"]
    expected = stats.paired(plus(BASE_SCORES, WINNERS["gain"][0]), BASE_SCORES).as_dict()
    assert plain(loaded["entries"][0]["repeat"]) == expected


def test_write_without_baseline_has_empty_noise_floor(heart_task, results, tmp_path):
    chosen = selection()
    chosen["baseline"] = None
    evidence = winners.write(
        heart_task, chosen, results, SEEDS, SEARCH_SEED, 42, tmp_path / "w.tsv", tmp_path / "w.json"
    )
    assert evidence["noise_floor"] == {}
    assert all(e["attribution"] == "not enough repeat runs to decide" for e in evidence["entries"][:4])


def test_test_note_states_the_floor():
    note = winners.test_note(5)
    assert "0.0625" in note
    assert "1/32" in note
    assert "5 matched seeds" in note and "Holm" in note
    assert "1/64" in winners.test_note(6)


def test_the_records_name_the_sources_of_variance(evidence, heart_task):
    sources = evidence["variance_sources"]
    assert "seed" in sources["varied"] and "initialisation" in sources["varied"]
    assert f"data.split_seed {heart_task.data['split_seed']}" in sources["fixed"]
    assert "partition" in sources["fixed"]


def test_a_varied_partition_is_named_from_the_records():
    """With repeats.vary_partition the score records name each run's partition: the sources say so."""
    femnist = Task.load(REPO / "flcampaign" / "tasks" / "femnist")
    sources = winners.variance_sources(femnist, {42: 42, 43: 43, 44: 44})
    assert "data.options.grouping_seed = the run's seed, 3 partitions" in sources["varied"]
    assert "initialisation" in sources["varied"]
    assert "held-out rows" in sources["fixed"] and "client partition" not in sources["fixed"]


def test_the_report_shows_the_race_its_cost_and_each_candidates_seeds(heart_task, results):
    """A race over the winners on two more search seeds: its table names who was dropped and why, the cost
    line compares it with the fixed repeats, and the ledger table gives every scored candidate its seeds."""
    settings = racing.RaceSettings(contenders=3, seeds=(1, 2), batch=2, alpha=0.1, top_k=1)
    screening = {"gain": 0.88, "tuning": 0.86, "heldfp": 0.87}
    state = racing.enter(screening, settings, 1.0, (BASE, 0.80))
    runs = {"gain": (0.88, 0.89), "tuning": (0.70, 0.71), "heldfp": (0.86, 0.88), BASE: (0.80, 0.81)}
    state = racing.advance(state, {c: dict(zip((1, 2), r, strict=True)) for c, r in runs.items()}, settings, 1.0, 0)
    chosen = selection() | {"race": racing.summary(state, racing.ranking(state, 1.0, SEARCH_SEED), SEARCH_SEED)}
    evidence = winners.build(heart_task, chosen, results, SEEDS, SEARCH_SEED)
    assert entry(evidence, "gain")["search_seeds"] == 3 and entry(evidence, "gain")["race_gain"]["n"] == 3
    assert entry(evidence, "gain")["race_gain"]["mean"] == pytest.approx((0.08 + 0.08 + 0.08) / 3)
    section = race_section(evidence, "race.png")
    assert section["raced"] and section["plot"] == "race.png"
    lines = section["table"].splitlines()
    assert lines[2].startswith("| 1 | gain | 3 |") and "**winner**" in lines[2]
    assert "| tuning | 3 |" in section["table"] and "dropped at step 1 (p 0.0" in section["table"]
    assert f"race {evidence['cost']['race']} runs in 1 steps" in section["cost"]
    assert evidence["cost"]["race"] == 8 and "0.40× the winners' fixed repeats" in section["cost"]  # 8 of 4 x 5
    rows = [
        ledger_row(order=1, candidate=BASE, status="baseline", score=0.80),
        ledger_row(order=2, candidate="gain", status="keep", score=0.88),
        ledger_row(order=3, candidate="broken", status="crash", score=None),
    ]
    table = ledger_section(rows, evidence).splitlines()
    assert table[0].split(" | ")[5] == "seeds"
    assert [line.split(" | ")[5] for line in table[2:]] == ["1", "3", ""]
