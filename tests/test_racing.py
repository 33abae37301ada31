"""Unit tests of racing selection (evidence.racing): who enters, who is dropped, the order winners are taken in,
what it costs, and the rule's error rates on simulated noise (the figures the report states)."""

import json

import numpy as np
import pytest

from flcampaign.evidence import racing
from flcampaign.files import write_json
from flcampaign.layout import Records
from flcampaign.records import ledger_row

SETTINGS = racing.RaceSettings(contenders=4, seeds=(1, 2, 3, 4), batch=2, alpha=0.1, top_k=2)
SEARCH_SEED = 0


def finish(state: dict, scores: dict[str, dict[int, float]], settings: racing.RaceSettings = SETTINGS) -> dict:
    """Run the race to its end, each runner scoring what ``scores`` holds for it on each seed asked for."""
    while state["next_seeds"]:
        asked = state["next_seeds"]
        batch = {cid: {s: scores[cid][s] for s in asked if s in scores[cid]} for cid in racing.runners(state)}
        state = racing.advance(state, batch, settings, 1.0, SEARCH_SEED)
    return state


def test_the_top_contenders_by_screening_enter_and_the_baseline_runs_beside_them():
    screening = {"a": 0.70, "b": 0.72, "c": 0.60, "d": 0.71, "e": 0.50}
    state = racing.enter(screening, SETTINGS, 1.0, ("base", 0.69))
    assert state["alive"] == ["b", "d", "a", "c"]
    assert state["next_seeds"] == [1, 2]
    assert racing.runners(state) == ["b", "d", "a", "c", "base"]
    lower_is_better = racing.enter(screening, SETTINGS, -1.0)
    assert lower_is_better["alive"] == ["e", "c", "a", "d"]


@pytest.mark.parametrize(
    "settings",
    [
        racing.RaceSettings(contenders=4, seeds=(), batch=2, alpha=0.1, top_k=2),
        racing.RaceSettings(contenders=2, seeds=(1, 2), batch=2, alpha=0.1, top_k=2),
    ],
)
def test_no_race_without_seeds_or_with_no_more_contenders_than_winners(settings):
    state = racing.enter({"a": 0.7, "b": 0.8, "c": 0.6}, settings, 1.0, ("base", 0.65))
    assert state["next_seeds"] == [] and racing.runners(state) == []
    assert [e["candidate"] for e in racing.ranking(state, 1.0, SEARCH_SEED)] == ["b", "a", "c"]
    assert racing.simulations(state) == 0


def test_a_clearly_worse_contender_is_dropped_and_the_race_stops_at_top_k():
    screening = {"good": 0.80, "lucky": 0.82, "bad": 0.79, "equal": 0.78}
    scores = {
        "good": {1: 0.80, 2: 0.81, 3: 0.80, 4: 0.81},
        "lucky": {1: 0.70, 2: 0.71, 3: 0.70, 4: 0.72},
        "bad": {1: 0.60, 2: 0.61, 3: 0.60, 4: 0.62},
        "equal": {1: 0.80, 2: 0.80, 3: 0.81, 4: 0.80},
        "base": {1: 0.70, 2: 0.70, 3: 0.70, 4: 0.70},
    }
    state = finish(racing.enter(screening, SETTINGS, 1.0, ("base", 0.70)), scores)
    # "bad" goes after one batch; "lucky", whose screening run was the best, needs the second one
    assert {cid: d["step"] for cid, d in state["dropped"].items()} == {"bad": 1, "lucky": 2}
    assert state["dropped"]["bad"]["leader"] == "good" and state["dropped"]["bad"]["p"] < 0.1
    assert state["alive"] == ["good", "equal"] and state["step"] == 2 and state["next_seeds"] == []
    ranked = racing.ranking(state, 1.0, SEARCH_SEED)
    assert [e["candidate"] for e in ranked] == ["good", "equal", "lucky", "bad"]  # the later drop ranks higher
    assert [e["seeds"] for e in ranked] == [5, 5, 5, 3]
    assert racing.simulations(state) == (4 + 1) * 2 + (3 + 1) * 2  # contenders and the baseline, per batch


def test_a_crashed_race_run_ends_that_contenders_race():
    screening = {"a": 0.8, "b": 0.79, "c": 0.78}
    settings = racing.RaceSettings(contenders=3, seeds=(1, 2), batch=2, alpha=0.1, top_k=1)
    scores = {"a": {1: 0.8, 2: 0.8}, "b": {1: 0.8}, "c": {1: 0.79, 2: 0.8}}
    state = finish(racing.enter(screening, settings, 1.0), scores, settings)
    assert state["dropped"]["b"] == {"step": 1, "crashed_seeds": [2]}
    assert "b" not in state["alive"]


def test_the_state_survives_a_json_round_trip_between_steps():
    """Each race step is a checkpoint file: seeds come back as strings and must not double the runs."""
    screening = {"a": 0.8, "b": 0.79, "c": 0.78, "d": 0.5}
    state = racing.enter(screening, SETTINGS, 1.0, ("base", 0.7))
    same = {1: 0.8, 2: 0.8, 3: 0.8, 4: 0.8}
    for _ in range(2):
        batch = {cid: {s: same[s] for s in state["next_seeds"]} for cid in racing.runners(state)}
        state = json.loads(json.dumps(racing.advance(state, batch, SETTINGS, 1.0, SEARCH_SEED)))
    assert racing.seeds_run(state, "a", SEARCH_SEED) == {0: 0.8, 1: 0.8, 2: 0.8, 3: 0.8, 4: 0.8}
    assert racing.simulations(state) == 5 * 4  # nobody is worse: all four and the baseline ran both batches


def test_start_takes_compared_rows_in_campaign_order_and_full_precision_scores_from_the_records(heart_task, tmp_path):
    rows = [
        ledger_row(order=2, candidate="late", status="discard", score=0.8),
        ledger_row(order=1, candidate="base", status="baseline", score=0.7),
        ledger_row(order=3, candidate="broken", status="crash", score=None),
        ledger_row(order=0, candidate="early", status="keep", score=0.8),
        ledger_row(order=4, candidate="third", status="discard", score=0.6),
    ]
    records = Records(tmp_path / "results")
    exact = {"late": 0.8000004, "base": 0.7000001, "early": 0.7999996, "third": 0.6}  # the ledger shows 6 digits
    for cid, score in exact.items():
        path = records.score_record("search", cid, SEARCH_SEED)
        path.parent.mkdir(parents=True)
        write_json(path, {"state": "ok", "score": score})
    state = racing.start(heart_task, rows, SETTINGS, racing.recorded_search_score(records, SEARCH_SEED))
    assert state["screening"] == {"early": 0.7999996, "late": 0.8000004, "third": 0.6}
    assert state["alive"] == ["late", "early", "third"] and state["reference"] == "base"
    assert state["reference_screening"] == 0.7000001
    one_run = racing.start(heart_task, rows[:2], SETTINGS, racing.recorded_search_score(records, SEARCH_SEED))
    assert one_run["reference"] is None and one_run["next_seeds"] == []  # one contender: nothing to race


def test_the_race_table_pairs_gains_with_the_baseline_seed_by_seed():
    screening = {"a": 0.80, "b": 0.75, "c": 0.70}
    settings = racing.RaceSettings(contenders=3, seeds=(1,), batch=1, alpha=0.01, top_k=1)
    scores = {"a": {1: 0.90}, "b": {1: 0.65}, "c": {1: 0.70}, "base": {1: 0.60}}
    state = finish(racing.enter(screening, settings, 1.0, ("base", 0.70)), scores, settings)
    ranked = racing.ranking(state, 1.0, SEARCH_SEED)
    summary = racing.summary(state, ranked, SEARCH_SEED)
    rows = {row["candidate"]: row for row in racing.table(json.loads(json.dumps(summary)), 1.0)}
    assert rows["a"]["gain"] == pytest.approx(((0.80 - 0.70) + (0.90 - 0.60)) / 2)
    assert rows["a"]["screening"] == 0.80 and rows["a"]["seeds"] == 2
    tsv = racing.to_tsv(summary, 1.0).splitlines()
    assert tsv[0].split("\t") == list(racing.RACE_COLUMNS) and len(tsv) == 4


def _races(alpha: float, advantage: float, trials: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """Races of four contenders with unit normal noise, the first ``advantage`` better than the three others:
    (share of the equal ones dropped at the first step, share of races dropping the best, best among the top 2)."""
    settings = racing.RaceSettings(contenders=4, seeds=(1, 2, 3, 4), batch=2, alpha=alpha, top_k=2)
    means = {"best": advantage, "x": 0.0, "y": 0.0, "z": 0.0}
    equal_dropped = best_dropped = best_selected = 0
    for _ in range(trials):
        state = racing.enter({cid: rng.normal(mu) for cid, mu in means.items()}, settings, 1.0)
        first = True
        while state["next_seeds"]:
            batch = {cid: {s: rng.normal(means[cid]) for s in state["next_seeds"]} for cid in racing.runners(state)}
            state = racing.advance(state, batch, settings, 1.0, SEARCH_SEED)
            if first:
                equal_dropped += sum(cid != "best" for cid in state["dropped"])
                first = False
        best_dropped += "best" in state["dropped"]
        best_selected += "best" in [e["candidate"] for e in racing.ranking(state, 1.0, SEARCH_SEED)[:2]]
    return equal_dropped / (3 * trials), best_dropped / trials, best_selected / trials


def test_error_rates_of_the_race_on_simulated_noise():
    """The figures the report states: an equally good contender is dropped at the first step about 2 alpha times
    (the leader is picked after the fact), and a contender one sd better is rarely dropped and nearly always
    among the winners."""
    rng = np.random.default_rng(7)
    for alpha in (0.05, 0.1):
        equal, _, _ = _races(alpha, 0.0, 3000, rng)
        assert 1.5 * alpha < equal < 2.5 * alpha, (alpha, equal)
    _, dropped, selected = _races(0.1, 1.0, 3000, rng)
    assert dropped < 0.05 and selected > 0.9, (dropped, selected)
    one_run = np.mean([np.argsort(-(rng.normal(size=4) + [1, 0, 0, 0]))[:2].__contains__(0) for _ in range(3000)])
    assert selected > one_run + 0.05, (selected, one_run)
