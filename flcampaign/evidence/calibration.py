"""Error rates of the campaign's decision rules, measured on real runs of many seeds.

A seed study (``flcampaign.evidence.seed_study``, ``bench/seed_study.py``) runs the baseline and a
few changes on many seeds, each run scored by the trusted evaluator on the search-validation and
the held-out split. Every subset of ``n`` seeds is then one campaign's repeat stage: the rate at
which a rule calls a change a gain over those subsets is its detection rate for that change. For
the null arm (a change that alters nothing but the run's randomness) each campaign takes 2n
distinct baseline runs, n of them as the candidate: the rate is the rule's false-positive rate.
Intervals come from resampling the seeds themselves, so a study of few seeds says so. Selection
cannot bias these rates: winners are chosen on the search seed, and the rules only see the repeat
seeds, which selection never used.
"""

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from flcampaign.evidence import adaptive_seeds, racing, stats
from flcampaign.evidence.adaptive_seeds import NO_ADDED_SEEDS, AdaptiveSettings

STUDY_SPLITS = ("search_val", "heldout")
AGGREGATIONS = ("pooled", "mean_over_sites")
Key = tuple[str, str]  # (split, aggregation)
KEYS: tuple[Key, ...] = tuple((split, aggregation) for split in STUDY_SPLITS for aggregation in AGGREGATIONS)
NULL_ARM = "null"
BASELINE_ARM = "baseline"
MAX_SUBSETS = 20_000
INTERVAL_RESAMPLES = 200
RESAMPLE_SUBSETS = 2_000
RNG_SEED = 20261205
CAMPAIGN_OUTCOMES = {"selected": "selected", "dropped": "dropped by the race", "confirmed": "confirmed",
                     "null_confirmed": "a null confirmed"}  # fmt: skip

# a rule: (search-validation gain separated, held-out gain separated) per campaign -> called a gain
RULES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "search-validation repeat, then held-out": lambda search, heldout: search & heldout,
    "held-out alone (search-validation only selects)": lambda search, heldout: heldout,
    "search-validation repeat alone": lambda search, heldout: search,
}


@dataclass
class SeedStudy:
    """Per-seed scores of each arm: arm -> seed -> split -> aggregation -> score."""

    task: str
    rounds: int
    arms: dict[str, dict]
    scores: dict[str, dict[int, dict[str, dict[str, float]]]] = field(default_factory=dict)
    sandbox: str = ""  # the sandbox the runs had
    partitions: bool = False  # each seed trained and scored on its own client partition (repeats.vary_partition)

    def add(self, arm: str, seed: int, split: str, record: dict) -> None:
        entry = self.scores.setdefault(arm, {}).setdefault(seed, {})
        entry[split] = {name: float(record[name]) for name in AGGREGATIONS}

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SeedStudy":
        scores = {arm: {int(seed): runs for seed, runs in seeds.items()} for arm, seeds in data["scores"].items()}
        return cls(
            data["task"], data["rounds"], data["arms"], scores, data.get("sandbox", ""), data.get("partitions", False)
        )

    def matched_seeds(self, arm: str) -> list[int]:
        """The seeds a change and the baseline both ran (every baseline seed for the null arm)."""
        base = self.scores[BASELINE_ARM]
        return sorted(base) if arm == NULL_ARM else sorted(set(self.scores[arm]) & set(base))

    def _columns(self, arm: str, seeds: list[int], orientation: float) -> dict[Key, np.ndarray]:
        runs = self.scores[arm]
        return {key: orientation * np.array([runs[seed][key[0]][key[1]] for seed in seeds]) for key in KEYS}

    def runs(self, arm: str, orientation: float = 1.0) -> tuple[dict[Key, np.ndarray], dict[Key, np.ndarray]]:
        """(the arm's oriented scores, the baseline's), per (split, aggregation), one entry per matched seed; for
        the null arm both are the baseline's own runs (campaigns draw disjoint seeds)."""
        seeds = self.matched_seeds(arm)
        own = BASELINE_ARM if arm == NULL_ARM else arm
        return self._columns(own, seeds, orientation), self._columns(BASELINE_ARM, seeds, orientation)

    def baseline_runs(self, lead: list[int], orientation: float = 1.0) -> dict[Key, np.ndarray]:
        """The baseline's oriented runs, the seeds ``lead`` first in that order, then every other seed."""
        rest = sorted(set(self.scores[BASELINE_ARM]) - set(lead))
        return self._columns(BASELINE_ARM, [*lead, *rest], orientation)

    def arm_names(self) -> list[str]:
        return [NULL_ARM, *(arm for arm in self.scores if arm != BASELINE_ARM)]


def separated(differences: np.ndarray) -> np.ndarray:
    """Row by row (one campaign's seeds per row): is the 95% t interval of the mean gain above zero?"""
    n = differences.shape[1]
    mean = differences.mean(axis=1)
    sd = differences.std(axis=1, ddof=1)
    critical = float(scipy_stats.t.isf(stats.CONFIRM_LEVEL, n - 1))
    return mean - critical * sd / math.sqrt(n) > 0


def _subsets(size: int, n: int, rng: np.random.Generator, limit: int) -> np.ndarray:
    """Index rows of n distinct seeds out of ``size``, in random order within a row: every subset when there are
    few, else ``limit`` random ones."""
    if math.comb(size, n) <= limit:
        return rng.permuted(np.array(list(itertools.combinations(range(size), n))), axis=1)
    rows = np.empty((0, n), dtype=int)
    while len(rows) < limit:  # draws with a repeated seed are dropped: subsets without replacement
        draws = rng.integers(0, size, (2 * limit, n))
        ordered = np.sort(draws, axis=1)
        rows = np.concatenate([rows, draws[(np.diff(ordered, axis=1) > 0).all(axis=1)]])
    return rows[:limit]


def campaigns(
    arm_runs: tuple[dict[Key, np.ndarray], dict[Key, np.ndarray]],
    null: bool,
    n: int,
    rng: np.random.Generator,
    limit: int,
    population: np.ndarray | None = None,
) -> dict[Key, np.ndarray]:
    """Per (split, aggregation), one row of n paired gains per simulated campaign's repeat stage.

    A change is paired with the baseline seed by seed; a null campaign takes 2n distinct baseline runs, n as
    the candidate and n as the baseline. ``population`` resamples the seeds (the study's own uncertainty)."""
    candidate, baseline = arm_runs
    size = len(next(iter(baseline.values())))
    pick = np.arange(size) if population is None else population
    rows = pick[_subsets(size, 2 * n if null else n, rng, limit)]
    first, second = (rows[:, :n], rows[:, n:]) if null else (rows, rows)
    return {key: candidate[key][first] - baseline[key][second] for key in KEYS}


def call_rate(rows: dict[Key, np.ndarray], rule: str, aggregation: str) -> float:
    """Share of the campaigns in which ``rule`` calls a gain, deciding with ``aggregation``."""
    search, heldout = separated(rows[("search_val", aggregation)]), separated(rows[("heldout", aggregation)])
    return float(RULES[rule](search, heldout).mean())


def with_effect(arm_runs: tuple[dict[Key, np.ndarray], dict[Key, np.ndarray]], effect: float) -> tuple[dict, dict]:
    """The arm's runs shifted so that its mean gain is ``effect`` on every split: a change of known effect with
    the arm's own seed-to-seed noise."""
    candidate, baseline = arm_runs
    return {key: candidate[key] - (candidate[key] - baseline[key]).mean() + effect for key in KEYS}, baseline


def calibrate(study: SeedStudy, n: int, orientation: float = 1.0, known_effects: tuple[float, ...] = ()) -> dict:
    """Every arm's many-seed effect and noise, and each rule's call rate on it at n seeds, per site aggregation;
    each ``known_effects`` value adds every change's arm shifted to that mean gain."""
    rng = np.random.default_rng(RNG_SEED)
    arms = {}
    cases: list[tuple[str, float | None]] = [(arm, None) for arm in study.arm_names()]
    cases += [(arm, effect) for effect in known_effects for arm in study.arm_names() if arm != NULL_ARM]
    for arm, effect in cases:
        null = arm == NULL_ARM
        arm_runs = study.runs(arm, orientation)
        if effect is not None:
            arm_runs = with_effect(arm_runs, effect)
        effects = {}
        for key in KEYS:
            candidate, baseline = arm_runs[0][key], arm_runs[1][key]
            if null:  # two independent runs of the same recipe: mean 0, spread sqrt(2) times one run's
                mean, sd, half = 0.0, math.sqrt(2) * float(baseline.std(ddof=1)), 0.0
            else:
                d = candidate - baseline
                mean, sd = float(d.mean()), float(d.std(ddof=1))
                half = float(scipy_stats.t.isf(0.025, len(d) - 1)) * sd / math.sqrt(len(d))
            effects[f"{key[0]}/{key[1]}"] = {
                "seeds": len(baseline),
                "mean": mean,
                "ci": (mean - half, mean + half),
                "sd": sd,
                "mde": stats.minimum_detectable_effect(sd, n) if sd > 0 else 0.0,
            }
        rows = campaigns(arm_runs, null, n, rng, MAX_SUBSETS)
        resampled = []
        size = len(arm_runs[1][KEYS[0]])
        for _ in range(INTERVAL_RESAMPLES):
            population = rng.integers(0, size, size)
            resampled.append(campaigns(arm_runs, null, n, rng, RESAMPLE_SUBSETS, population))
        rates = {}
        for aggregation in AGGREGATIONS:
            for rule in RULES:
                spread = [call_rate(sample, rule, aggregation) for sample in resampled]
                rates[f"{rule} / {aggregation}"] = {
                    "rate": call_rate(rows, rule, aggregation),
                    "interval": (float(np.percentile(spread, 2.5)), float(np.percentile(spread, 97.5))),
                }
        name = arm if effect is None else f"{arm} at {effect:+g}"
        arms[name] = {"args": study.arms.get(arm, {}), "known_effect": effect, "effects": effects, "rates": rates}
    return {"task": study.task, "rounds": study.rounds, "seeds_per_campaign": n, "arms": arms}


def _held_out_confirmed(gains: list[np.ndarray], n: int, adaptive: AdaptiveSettings) -> tuple[list[bool], list[int]]:
    """The campaign's rule on its winners' held-out gains (each array: the n repeat seeds, then the added ones in
    order): one-sided paired t p, or the group-sequential p when seeds may be added, Holm over the winners.
    Returns (confirmed, seeds each decision took)."""
    p_values, used = [], []
    looks = adaptive.looks(n)
    for g in gains:
        if not adaptive.enabled:
            p_values.append(stats.t_p_one_sided(float(g[:n].mean()), float(g[:n].std(ddof=1)) / math.sqrt(n), n))
            used.append(n)
            continue
        seeds = n
        decision = adaptive_seeds.decide(list(g[:seeds]), looks, adaptive)
        while decision["status"] == adaptive_seeds.EXTENDED:
            seeds += adaptive.batch
            decision = adaptive_seeds.decide(list(g[:seeds]), looks, adaptive)
        p_values.append(decision["p_sequential"])
        used.append(seeds)
    return [adjusted < stats.CONFIRM_LEVEL for adjusted in stats.holm(p_values)], used


def one_campaign(
    change: tuple[dict[Key, np.ndarray], dict[Key, np.ndarray]] | None,
    baseline: dict[Key, np.ndarray],
    n_candidates: int,
    n: int,
    rng: np.random.Generator,
    race: racing.RaceSettings,
    adaptive: AdaptiveSettings = NO_ADDED_SEEDS,
) -> dict:
    """One simulated campaign from real runs: was the real change selected, confirmed, dropped by the race; was a
    null confirmed; how many simulations the race spent.

    ``n_candidates`` changes each get one screening run; those that change nothing are baseline runs of other
    seeds (each null draws its runs from the baseline's spare runs, never one run twice), and ``change`` (a
    change's runs matched to ``baseline`` by seed), when given, is one more. The race (when ``race`` is enabled)
    gives contenders more search runs; the top ``race.top_k`` are repeated on n seeds and decided by the rule
    (held-out, Holm), with seeds added to promising winners when ``adaptive`` is enabled."""
    search_key, held_key = ("search_val", AGGREGATIONS[0]), ("heldout", AGGREGATIONS[0])
    size = len(baseline[held_key])
    search_runs, extra = 1 + len(race.seeds), len(adaptive.seeds) if adaptive.enabled else 0
    order = rng.permutation(len(change[0][held_key]) if change is not None else size)
    if change is not None:  # the change's runs: repeat seeds, search runs, added seeds (the baseline's match them)
        repeat_seeds, change_runs = order[:n], order[n : n + search_runs]
        added = order[n + search_runs : n + search_runs + extra]
        spare = np.setdiff1d(np.arange(size), order[: n + search_runs + extra])
    else:
        repeat_seeds, change_runs, added = order[:n], order[:0], order[n : n + extra]
        spare = np.setdiff1d(np.arange(size), order[: n + extra])
    if (
        (change is not None and len(change_runs) < search_runs)
        or len(added) < extra
        or len(spare) < search_runs + n + extra
    ):
        raise ValueError(f"the study has too few runs for {search_runs} search runs and {n} repeats per candidate")
    own: dict[str, Iterator[int]] = {}

    def search_run(cid: str, index: int) -> float:
        if cid == "change" and change is not None:
            return float(change[0][search_key][change_runs[index]])
        return float(baseline[search_key][next(own.setdefault(cid, iter(rng.permutation(spare))))])

    ids = [f"null-{i}" for i in range(n_candidates - (change is not None))] + (["change"] if change else [])
    ids = [ids[i] for i in rng.permutation(len(ids))]  # campaign order breaks ties: no arm is favoured
    state = racing.enter({cid: search_run(cid, 0) for cid in ids}, race, 1.0)
    done = 1
    while state["next_seeds"]:
        seeds = state["next_seeds"]
        batch = {cid: {s: search_run(cid, done + j) for j, s in enumerate(seeds)} for cid in state["alive"]}
        done += len(seeds)
        state = racing.advance(state, batch, race, 1.0, search_seed=-1)
    winners = [entry["candidate"] for entry in racing.ranking(state, 1.0, search_seed=-1)[: race.top_k]]
    gains, seeds = [], np.concatenate([repeat_seeds, added])
    for cid in winners:
        if cid == "change" and change is not None:
            runs = change[0][held_key][seeds]
        else:  # a null winner's repeats: more of its own runs, unpaired with the baseline's repeat seeds
            runs = baseline[held_key][[next(own[cid]) for _ in range(n + extra)]]
        gains.append(runs - baseline[held_key][seeds])
    confirmed, used = _held_out_confirmed(gains, n, adaptive)
    fixed, _ = _held_out_confirmed(gains, n, NO_ADDED_SEEDS)  # the same campaign decided on the n seeds alone
    selected = "change" in winners
    return {
        "confirmed_fixed": selected and fixed[winners.index("change")],
        "null_confirmed_fixed": any(c for c, cid in zip(fixed, winners, strict=True) if cid != "change"),
        "selected": selected,
        "confirmed": selected and confirmed[winners.index("change")],
        "dropped": "change" in state["dropped"],
        "null_confirmed": any(c for c, cid in zip(confirmed, winners, strict=True) if cid != "change"),
        "race_simulations": racing.simulations(state),
        "added_simulations": sum(u - n for u in used) + max(u - n for u in used),  # the winners' and the baseline's
    }


def campaign_rates(
    study: SeedStudy,
    n: int,
    n_candidates: int,
    race: racing.RaceSettings,
    effects: tuple[float, ...],
    trials: int = 4000,
    orientation: float = 1.0,
    adaptive: AdaptiveSettings = NO_ADDED_SEEDS,
) -> dict:
    """Whole campaigns with selection: the A/A rate (all candidates null: any winner confirmed) and, for each
    change shifted to each known effect among nulls, how often it is selected, dropped by the race and confirmed;
    with the mean cost in extra simulations of the race and of the added seeds."""
    rng = np.random.default_rng(RNG_SEED)
    _, baseline = study.runs(NULL_ARM, orientation)
    out: dict = {"seeds": n, "candidates": n_candidates, "top_k": race.top_k, "trials": trials, "race": asdict(race),
                 "adaptive": asdict(adaptive) if adaptive.enabled else None}  # fmt: skip
    null = [one_campaign(None, baseline, n_candidates, n, rng, race, adaptive) for _ in range(trials)]
    out["aa_rate"] = _with_interval(sum(r["null_confirmed"] for r in null), trials)
    out["aa_race_simulations"] = float(np.mean([r["race_simulations"] for r in null]))
    out["aa_added_simulations"] = float(np.mean([r["added_simulations"] for r in null]))
    if adaptive.enabled:  # the same campaigns decided on the fixed seeds alone: the paired comparison
        out["aa_rate_fixed"] = _with_interval(sum(r["null_confirmed_fixed"] for r in null), trials)
    out["known"] = {}
    for arm in study.arm_names()[1:]:
        for effect in effects:
            shifted = with_effect(study.runs(arm, orientation), effect)
            base_runs = study.baseline_runs(study.matched_seeds(arm), orientation)  # the matched seeds lead
            results = [one_campaign(shifted, base_runs, n_candidates, n, rng, race, adaptive) for _ in range(trials)]
            entry: dict[str, Any] = {k: _with_interval(sum(r[k] for r in results), trials) for k in CAMPAIGN_OUTCOMES}
            entry["race_simulations"] = float(np.mean([r["race_simulations"] for r in results]))
            entry["added_simulations"] = float(np.mean([r["added_simulations"] for r in results]))
            if adaptive.enabled:
                entry["confirmed_fixed"] = _with_interval(sum(r["confirmed_fixed"] for r in results), trials)
            out["known"][f"{arm} at {effect:+g}"] = entry
    return out


def _with_interval(hits: int, trials: int) -> dict:
    """A rate with its 95% Wilson interval over the simulated campaigns."""
    low, high = stats.wilson(hits, trials)
    return {"rate": hits / trials, "interval": (low, high)}


def render(result: dict) -> str:
    """The calibration as text tables: each arm's many-seed effect, then each rule's call rate."""
    lines = [f"{result['task']}, {result['rounds']} rounds; rules applied to {result['seeds_per_campaign']} seeds"]
    lines.append("")
    lines.append(
        f"{'arm':<20} {'split/aggregation':<26} {'seeds':>5} {'gain':>8} {'95% CI':>20} {'sd':>7} {'MDE80':>7}"
    )
    for arm, entry in result["arms"].items():
        for key, e in entry["effects"].items():
            ci = f"[{e['ci'][0]:+.4f}, {e['ci'][1]:+.4f}]"
            lines.append(
                f"{arm:<20} {key:<26} {e['seeds']:>5} {e['mean']:>+8.4f} {ci:>20} {e['sd']:>7.4f} {e['mde']:>7.4f}"
            )
    lines.append("")
    lines.append(f"{'arm':<20} {'rule / aggregation':<70} {'called a gain':>14} {'95% interval':>16}")
    for arm, entry in result["arms"].items():
        for key, r in entry["rates"].items():
            interval = f"[{r['interval'][0]:.3f}, {r['interval'][1]:.3f}]"
            lines.append(f"{arm:<20} {key:<70} {r['rate']:>14.3f} {interval:>16}")
    return "\n".join(lines)


def _fixed(rate: dict | None) -> str:
    """The same campaigns' rate when decided on the fixed repeat seeds alone (only with added seeds)."""
    if rate is None:
        return ""
    return f"; on the fixed seeds alone {rate['rate']:.3f} [{rate['interval'][0]:.3f}, {rate['interval'][1]:.3f}]"


def render_campaigns(result: dict) -> str:
    """Whole-campaign rates as a text table."""
    race = result["race"]
    how = (
        f"the top {race['contenders']} raced on {len(race['seeds'])} more search seeds in batches of {race['batch']} "
        f"(drop at one-sided paired p < {race['alpha']:g})"
        if race["seeds"] and race["contenders"] > race["top_k"]
        else "one search run each"
    )
    adaptive = result.get("adaptive")
    added = (
        f" (+ up to {len(adaptive['seeds'])} added in batches of {adaptive['batch']}, group-sequential)"
        if adaptive
        else ""
    )
    lines = [
        f"whole campaigns: {result['candidates']} candidates, {how}, top {result['top_k']} repeated on "
        f"{result['seeds']} seeds{added}, held-out rule with Holm; {result['trials']} simulated campaigns (Wilson "
        "intervals)"
    ]
    aa = result["aa_rate"]
    lines.append(
        f"  all null: a winner confirmed in {aa['rate']:.3f} [{aa['interval'][0]:.3f}, {aa['interval'][1]:.3f}]; "
        f"race simulations {result['aa_race_simulations']:.1f}, added-seed simulations "
        f"{result.get('aa_added_simulations', 0.0):.1f}{_fixed(result.get('aa_rate_fixed'))}"
    )
    for name, entry in result["known"].items():
        cells = ", ".join(
            f"{label} {entry[key]['rate']:.3f} [{entry[key]['interval'][0]:.3f}, {entry[key]['interval'][1]:.3f}]"
            for key, label in CAMPAIGN_OUTCOMES.items()
        )
        lines.append(
            f"  {name} among nulls: {cells}; race simulations {entry['race_simulations']:.1f}, added-seed "
            f"simulations {entry.get('added_simulations', 0.0):.1f}{_fixed(entry.get('confirmed_fixed'))}"
        )
    return "\n".join(lines)
