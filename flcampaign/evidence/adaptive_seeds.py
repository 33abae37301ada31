"""Adaptive seeds for winners: more repeat seeds, in batches, for a gain that is promising but not yet separated.

After the fixed repeat seeds, a winner whose held-out gain is not separated from zero but whose mean is at least
the gain the full seed budget could detect gets the next batch of seeds (the baseline runs them too), up to a cap.
Testing again after each batch would inflate a plain t test's error rate. The decision is instead a group-sequential
test: at every look the one-sided paired t p is computed and divided by the look's weight (1 for the fixed repeats,
``later_weight`` for each added batch), and the smallest of these is compared with its distribution under the null
over every look the plan allows (Gaussian paired differences: the t statistic does not depend on their scale, so
one Monte Carlo table per plan serves every task). That p is valid whatever the data make the campaign do (an arm
that stops early only had fewer chances), so Holm over the winners applies to it unchanged. The price: the first
look's boundary is a little stricter than the plain test's (docs/statistics.md measures the trade).
"""

import functools
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats as scipy_stats

from flcampaign.evidence import stats
from flcampaign.layout import HELDOUT_RECORD, Records
from flcampaign.records import scored_records
from flcampaign.task import Task

NULL_DRAWS = 200_000
NULL_SEED = 20261205
SEPARATED, BELOW_EFFECT, EXHAUSTED, EXTENDED, NO_PAIRS = (
    "separated",
    "below the gain worth more seeds",
    "seed cap reached",
    "more seeds",
    "too few paired seeds",
)


@dataclass(frozen=True)
class AdaptiveSettings:
    """``repeats.adaptive``: the extra seeds in the order they are used, the batch size, the smallest mean gain
    worth more seeds (None: the gain the full budget finds with 80% power at the plan's boundary), and each added
    batch's share of the level relative to the fixed repeats'."""

    seeds: tuple[int, ...] = ()
    batch: int = 5
    min_effect: float | None = None
    later_weight: float = 0.05

    @classmethod
    def from_config(cls, adaptive: Mapping) -> "AdaptiveSettings":
        min_effect = adaptive.get("min_effect")
        return cls(
            seeds=tuple(int(s) for s in adaptive.get("seeds", ())),
            batch=int(adaptive.get("batch", 5)),
            min_effect=None if min_effect is None else float(min_effect),
            later_weight=float(adaptive.get("later_weight", 0.05)),
        )

    @property
    def enabled(self) -> bool:
        return self.batch > 0 and len(self.seeds) >= self.batch

    def steps(self) -> int:
        """The last step: one per full batch of extra seeds (0 when disabled)."""
        return len(self.seeds) // self.batch if self.enabled else 0

    def batch_seeds(self, step: int) -> list[int]:
        """The seeds step ``step`` (counting from 1) adds."""
        return list(self.seeds[(step - 1) * self.batch : step * self.batch])

    def looks(self, first: int) -> tuple[int, ...]:
        """Paired seeds at each look: the fixed repeats, then one more batch per step."""
        return tuple(first + step * self.batch for step in range(self.steps() + 1))


NO_ADDED_SEEDS = AdaptiveSettings()


def t_p_one_sided(differences: np.ndarray) -> np.ndarray:
    """One-sided paired t p of a gain, row by row (a row with no spread: 0 for a positive mean, else 1)."""
    n = differences.shape[-1]
    mean = differences.mean(axis=-1)
    sd = differences.std(axis=-1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(sd > 0, mean / (sd / np.sqrt(n)), np.where(mean > 0, np.inf, -np.inf))
    return scipy_stats.t.sf(t, n - 1)


def weights(looks: tuple[int, ...], later: float) -> np.ndarray:
    """Each look's share of the level, relative to the first's: 1 everywhere is Pocock's constant boundary (5 then up
    to 15 seeds: every look at p < 0.010); the default 0.05 keeps the first look at p < 0.0235 and the later ones at
    p < 0.0012, which on the bundled task's runs lost the least at +0.05 and gained the most at +0.03
    (docs/statistics.md, bench/adaptive_weights.py)."""
    return np.array([1.0] + [later] * (len(looks) - 1))


@functools.lru_cache(maxsize=16)
def null_min_p(looks: tuple[int, ...], later: float) -> np.ndarray:
    """Sorted smallest-over-the-looks weighted t p of Gaussian null paths: the table a sequential p is read from."""
    rng = np.random.default_rng(NULL_SEED)
    paths = rng.standard_normal((NULL_DRAWS, looks[-1]))
    w = weights(looks, later)
    return np.sort(np.min([t_p_one_sided(paths[:, :n]) / w[k] for k, n in enumerate(looks)], axis=0))


def sequential_p(differences: list[float], looks: tuple[int, ...], later: float) -> float:
    """The group-sequential p of a gain observed in seed order: how often a null path over the whole plan shows a
    smallest look p at least this small (looks the data did not reach count as not taken). A seed whose run
    crashed leaves a look short: the pairs there are that look (its t p uses their count), so one crash does
    not void the test."""
    reached = [n for n in looks if n <= len(differences)]
    if len(differences) not in reached and len(reached) < len(looks):
        reached.append(len(differences))
    if len(differences) < 2:
        return 1.0
    d = np.asarray(differences, dtype=float)
    w = weights(looks, later)
    smallest = min(float(t_p_one_sided(d[:n])) / w[k] for k, n in enumerate(reached))
    table = null_min_p(looks, later)
    return float((np.searchsorted(table, smallest, side="right") + 1) / (len(table) + 1))


@functools.lru_cache(maxsize=16)
def boundary(looks: tuple[int, ...], later: float, level: float = stats.CONFIRM_LEVEL) -> float:
    """The nominal p below which the first look separates the gain (a later look: this times its weight)."""
    return float(np.quantile(null_min_p(looks, later), level))


@functools.lru_cache(maxsize=64)
def unit_mde(n: int, level: float) -> float:
    """The gain n seeds find with 80% power at ``level``, per unit sd of the paired gains (it scales with the sd)."""
    return stats.minimum_detectable_effect(1.0, n, level=level)


def decide(differences: list[float], looks: tuple[int, ...], settings: AdaptiveSettings) -> dict:
    """One winner's state after a look: its sequential p, the gain worth more seeds, and whether it gets them."""
    n = len(differences)
    if n < 2:
        return {"seeds": n, "p_sequential": None, "mean": None, "min_effect": None, "status": NO_PAIRS}
    d = np.asarray(differences, dtype=float)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    nominal = boundary(looks, settings.later_weight)
    worth = settings.min_effect if settings.min_effect is not None else sd * unit_mde(looks[-1], nominal)
    p = sequential_p(differences, looks, settings.later_weight)
    if p < stats.CONFIRM_LEVEL:
        status = SEPARATED
    elif mean < worth or (settings.min_effect is None and mean <= 0):  # by default only a positive gain is chased
        status = BELOW_EFFECT
    elif n >= looks[-1]:
        status = EXHAUSTED
    else:
        status = EXTENDED
    return {"seeds": n, "p_sequential": p, "mean": mean, "min_effect": worth, "status": status}


def held_out_gains(task: Task, records: Records, cid: str, baseline: str, seeds: list[int]) -> list[float]:
    """The winner's held-out gains over the baseline, in the given seed order, where both ran and scored."""
    arm = scored_records(records, "repeat", cid, seeds, HELDOUT_RECORD)
    base = scored_records(records, "repeat", baseline, seeds, HELDOUT_RECORD)
    return [task.gain(arm[s][0], base[s][0]) for s in seeds if s in arm and s in base]


def start(task: Task, selection: dict, records: Records, repeat_seeds: list[int], settings: AdaptiveSettings) -> dict:
    """Step 0: every winner's held-out gain on the fixed repeat seeds, and the first batch for those that get it."""
    baseline = selection["baseline"]
    winners = [w["candidate"] for w in selection["winners"]] if baseline and settings.enabled else []
    state = {
        "settings": asdict(settings),
        "baseline": baseline,
        "step": 0,
        "repeat_seeds": list(repeat_seeds),
        "looks": list(settings.looks(len(repeat_seeds))),
        "nominal": boundary(settings.looks(len(repeat_seeds)), settings.later_weight) if winners else None,
        "arms": {cid: {"seeds": list(repeat_seeds), "history": []} for cid in winners},
    }
    return _look(task, state, records, settings)


def advance(task: Task, state: dict, records: Records, settings: AdaptiveSettings) -> dict:
    """The next step: the batch the previous state asked for is added to the arms that got it, then a new look."""
    state = {**state, "step": state["step"] + 1, "arms": {cid: dict(arm) for cid, arm in state["arms"].items()}}
    for cid in state["next_arms"]:
        state["arms"][cid]["seeds"] = [*state["arms"][cid]["seeds"], *state["next_seeds"]]
    return _look(task, state, records, settings)


def _look(task: Task, state: dict, records: Records, settings: AdaptiveSettings) -> dict:
    """Decide every winner that got seeds at this step (all of them at step 0); ask for the next batch."""
    looks, extend = tuple(state["looks"]), []
    more_left = state["step"] < settings.steps()
    for cid, arm in state["arms"].items():
        if arm["history"] and arm["history"][-1]["status"] != EXTENDED:
            continue
        gains = held_out_gains(task, records, cid, state["baseline"], arm["seeds"])
        decision = decide(gains, looks, settings)
        if decision["status"] == EXTENDED and not more_left:
            decision["status"] = EXHAUSTED
        arm["history"] = [*arm["history"], {"step": state["step"], **decision}]
        if decision["status"] == EXTENDED:
            extend.append(cid)
    next_seeds = settings.batch_seeds(state["step"] + 1) if extend else []
    return {**state, "next_arms": extend, "next_seeds": next_seeds}


def added_seeds(state: dict) -> list[int]:
    """Every extra seed the baseline ran: those of the steps that gave some winner more seeds."""
    repeat = set(state["repeat_seeds"])
    added = {s for arm in state["arms"].values() for s in arm["seeds"]} - repeat
    return [s for s in state["settings"]["seeds"] if s in added]


def simulations(state: dict) -> int:
    """Runs the added seeds cost: the baseline's and each extended winner's, one per added seed."""
    extra = sum(len(arm["seeds"]) - len(state["repeat_seeds"]) for arm in state["arms"].values())
    return len(added_seeds(state)) + extra


def last_decision(state: dict, cid: str) -> dict | None:
    """A winner's decision at its last look (None for an arm that was never looked at)."""
    arm = state["arms"].get(cid)
    return arm["history"][-1] if arm and arm["history"] else None
