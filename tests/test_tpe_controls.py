"""The TPE control arm: batches that stay inside the knobs, reproduce, read the scores of the batch before, and
learn from them (on a known objective TPE beats the random arm at the same budget)."""

import math

import numpy as np
import pytest
from conftest import with_direction

from flcampaign.evidence import tpe_controls
from flcampaign.evidence.arm_comparison import best_so_far
from flcampaign.evidence.controls import draw_controls
from flcampaign.evidence.tpe_controls import TpeSettings
from flcampaign.files import write_json
from flcampaign.layout import Records
from flcampaign.task import check_knob


def objective(args: dict) -> float:
    """A known optimum inside the heart task's knobs: lr near 3e-3 with fedavgm and many local steps."""
    return (
        0.9
        - 0.1 * (math.log10(args["lr"]) + 2.5) ** 2
        - 0.05 * (args["aggregator"] != "fedavgm")
        - 0.0002 * (400 - args["local_steps"])
    )


def run_arm(task, settings: TpeSettings, n: int, score=objective) -> dict:
    state = tpe_controls.step(task, settings, n, None, {})
    while not state["done"]:
        state = tpe_controls.step(task, settings, n, state, {a["id"]: score(a["args"]) for a in state["next"]})
    return state


def test_batches_ask_inside_the_knobs_and_stop_at_the_arm_size(heart_task):
    settings = TpeSettings(enabled=True, batch=4, seed=3)
    state = tpe_controls.step(heart_task, settings, 10, None, {})
    steps = 0
    while not state["done"]:
        assert len(state["next"]) == min(4, 10 - len(state["trials"]))
        for asked in state["next"]:
            assert set(asked["args"]) == set(heart_task.knobs)
            assert all(check_knob(k, v, heart_task.knobs[k]) is None for k, v in asked["args"].items())
        assert len({str(sorted(a["args"].items())) for a in state["next"]}) == len(state["next"])  # constant liar
        state = tpe_controls.step(
            heart_task, settings, 10, state, {a["id"]: objective(a["args"]) for a in state["next"]}
        )
        steps += 1
    assert steps == 3 and state["step"] == 3 == settings.steps(10)
    assert settings.steps(0) == 0 and TpeSettings(batch=1).steps(2) == 2
    assert [t["id"] for t in state["trials"]] == [f"_tpe-{i:03d}" for i in range(1, 11)]
    assert tpe_controls.arm_ids(state) == [t["id"] for t in state["trials"]]


def test_the_arm_reproduces_and_each_step_draws_afresh(heart_task):
    settings = TpeSettings(enabled=True, batch=3, startup=6, seed=1)
    assert run_arm(heart_task, settings, 9) == run_arm(heart_task, settings, 9)
    trials = run_arm(heart_task, settings, 9)["trials"]
    # both of the first two steps are random draws: a step seeded like the one before would repeat its points
    assert [t["args"] for t in trials[:3]] != [t["args"] for t in trials[3:6]]
    assert run_arm(heart_task, TpeSettings(enabled=True, batch=3, seed=2), 9) != run_arm(heart_task, settings, 9)


def test_a_failed_control_is_told_as_failed_and_the_arm_goes_on(heart_task):
    settings = TpeSettings(enabled=True, batch=2, startup=2)
    state = run_arm(heart_task, settings, 6, score=lambda args: None if args["aggregator"] == "median" else 0.5)
    assert len(state["trials"]) == 6 and state["done"]
    assert all((t["score"] is None) == (t["args"]["aggregator"] == "median") for t in state["trials"])


def test_advance_reads_the_scores_from_the_records(heart_task, tmp_path):
    records = Records(tmp_path / "results")
    settings = TpeSettings(enabled=True, batch=2)
    first = tpe_controls.start(heart_task, settings, 2)
    assert first["n"] == 2 and len(first["next"]) == 2
    one, two = (a["id"] for a in first["next"])
    write_json(records.score_record("control", one, 0), {"state": "ok", "score": 0.7})
    write_json(records.score_record("control", two, 0), {"state": "crash", "score": None})
    final = tpe_controls.advance(heart_task, settings, first, records, search_seed=0)
    assert final["done"] and [t["score"] for t in final["trials"]] == [0.7, None]


@pytest.mark.parametrize("direction", ["max", "min"])
def test_tpe_learns_from_the_scores_and_beats_random_draws_at_the_same_budget(heart_task, direction):
    """24 controls in batches of 4 on a known objective, 12 arms each: TPE's best is better than the random arm's
    on average and in most arms, whichever way the metric points."""
    task = with_direction(heart_task, direction)
    sign = 1.0 if direction == "max" else -1.0

    def score(args: dict) -> float:
        return sign * objective(args)

    tpe_best, random_best = [], []
    for seed in range(12):
        state = run_arm(task, TpeSettings(enabled=True, batch=4, seed=seed), 24, score=score)
        tpe_best.append(sign * best_so_far(task, [t["score"] for t in state["trials"]])[-1])
        draws = draw_controls(task, 24, seed + 1000)
        random_best.append(sign * best_so_far(task, [score(d["args"]) for d in draws])[-1])
    wins = sum(t > r for t, r in zip(tpe_best, random_best, strict=True))
    assert np.mean(tpe_best) > np.mean(random_best) and wins >= 8, (tpe_best, random_best)
