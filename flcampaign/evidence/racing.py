"""Racing selection: the search seeds a contender gets before winners are chosen, and when it stops.

One search run ranks candidates by luck whenever their true differences are smaller than one run's
noise. The race (a t-race in the sense of Birattari's racing for algorithm configuration) gives the
top ``contenders`` by their screening run more search seeds, a batch at a time, and after each
batch drops every contender whose paired one-sided t test against the leader (the best mean on the
seeds all of them share) says it is worse at level ``alpha``. It stops once no more than ``top_k``
contenders are left or the seeds run out; winners are then taken by their mean over every seed
they ran. Race seeds are search seeds: never the repeat seeds, which stay fresh for the evidence.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from flcampaign.evidence import stats
from flcampaign.layout import RACE_PHASE, SCORE_RECORD, Records
from flcampaign.records import Status, scored_records
from flcampaign.task import Task


@dataclass(frozen=True)
class RaceSettings:
    """``selection.racing`` of the config: how many contenders, which seeds in which batches, the level."""

    contenders: int
    seeds: tuple[int, ...]
    batch: int
    alpha: float
    top_k: int

    @classmethod
    def from_config(cls, selection: Mapping) -> "RaceSettings":
        racing = selection["racing"]
        return cls(
            contenders=racing["contenders"],
            seeds=tuple(racing["seeds"]),
            batch=racing["batch"],
            alpha=racing["alpha"],
            top_k=selection["top_k"],
        )

    @property
    def enabled(self) -> bool:
        return bool(self.seeds) and self.contenders > self.top_k

    def batches(self) -> list[tuple[int, ...]]:
        """The race seeds cut into batches, in order."""
        return [self.seeds[i : i + self.batch] for i in range(0, len(self.seeds), self.batch)]

    def steps(self) -> int:
        """The race's last step: step 0 enters from the screening runs, then one step per batch."""
        return len(self.batches()) if self.enabled else 0


def by_seed(scores: Mapping) -> dict[int, float]:
    """Seed -> score with integer seeds (JSON keeps them as strings)."""
    return {int(seed): float(value) for seed, value in scores.items()}


def worse_than_leader(own: Sequence[float], leader: Sequence[float], orientation: float) -> float:
    """One-sided paired t p of "this contender is worse than the leader" over their shared seeds."""
    differences = orientation * (np.asarray(leader, dtype=float) - np.asarray(own, dtype=float))
    n = len(differences)
    if n < 2:
        return 1.0
    return stats.t_p_one_sided(float(differences.mean()), float(differences.std(ddof=1)) / np.sqrt(n), n)


def mean_score(scores: Mapping[int, float]) -> float:
    return float(np.mean(list(scores.values())))


def enter(
    screening: Mapping[str, float],
    settings: RaceSettings,
    orientation: float,
    reference: tuple[str, float] | None = None,
) -> dict:
    """The race's first state: the top ``contenders`` by their one screening run (ties by the given order).

    ``reference`` (the baseline's id and screening score) runs every batch beside the contenders, never dropped
    nor chosen, so that each contender's multi-seed search gain is paired seed by seed."""
    ranked = sorted(screening, key=lambda cid: -orientation * screening[cid])
    alive = ranked[: settings.contenders] if settings.enabled else []
    racing = len(alive) > settings.top_k
    return {
        "settings": asdict(settings),
        "step": 0,
        "alive": alive,
        "reference": reference[0] if reference and racing else None,
        "reference_screening": reference[1] if reference else None,
        "dropped": {},
        "screening": dict(screening),
        "scores": {cid: {} for cid in alive},
        "reference_scores": {},
        "batches_run": 0,
        "next_seeds": list(settings.batches()[0]) if racing else [],
    }


def runners(state: dict) -> list[str]:
    """Who runs the next batch: the contenders still in the race, and the reference while any of them runs."""
    if not state["next_seeds"]:
        return []
    return [*state["alive"], *([state["reference"]] if state["reference"] else [])]


def advance(state: dict, batch_scores: Mapping[str, Mapping[int, float]], settings: RaceSettings, orientation: float,
            search_seed: int) -> dict:  # fmt: skip
    """The race after one more batch: every alive contender's scores on the batch, the leader, who is dropped."""
    step = state["step"] + 1
    if not state["next_seeds"]:  # the race has ended: later steps keep its outcome
        return {**state, "step": step}
    scores = {cid: by_seed(seeds) for cid, seeds in state["scores"].items()}
    dropped = dict(state["dropped"])
    for cid in state["alive"]:
        ran = by_seed(batch_scores.get(cid, {}))
        scores[cid].update(ran)
        missing = [seed for seed in state["next_seeds"] if seed not in ran]
        if missing:  # a run that crashed or timed out on a race seed ends the contender's race
            dropped[cid] = {"step": step, "crashed_seeds": missing}
    reference_scores = by_seed(state["reference_scores"])
    if state["reference"]:
        reference_scores.update(by_seed(batch_scores.get(state["reference"], {})))
    alive = [cid for cid in state["alive"] if cid not in dropped]
    runs = {cid: seeds_run({**state, "scores": scores}, cid, search_seed) for cid in alive}
    leader = max(alive, key=lambda cid: (orientation * mean_score(runs[cid]), -alive.index(cid))) if alive else None
    shared = sorted(set.intersection(*(set(seeds) for seeds in runs.values()))) if alive else []
    for cid in alive:
        if cid == leader:
            continue
        p = worse_than_leader([runs[cid][s] for s in shared], [runs[leader][s] for s in shared], orientation)
        if p < settings.alpha:
            dropped[cid] = {"step": step, "p": p, "leader": leader, "seeds": len(shared)}
    alive = [cid for cid in alive if cid not in dropped]
    batches = settings.batches()
    more = step < len(batches) and len(alive) > settings.top_k
    return {
        **state,
        "step": step,
        "alive": alive,
        "leader": leader,
        "dropped": dropped,
        "scores": scores,
        "reference_scores": reference_scores,
        "batches_run": state["batches_run"] + 1,
        "next_seeds": list(batches[step]) if more else [],
    }


def ranking(state: dict, orientation: float, search_seed: int) -> list[dict]:
    """Every screened candidate in selection order: survivors by their mean over all their seeds, then the
    dropped (latest drop first, then mean), then the rest by their screening run. Each entry says its seeds."""

    def entry(cid: str) -> dict:
        runs = seeds_run(state, cid, search_seed)
        return {"candidate": cid, "seeds": len(runs), "mean": mean_score(runs), "dropped": state["dropped"].get(cid)}

    order = list(state["screening"])
    entries = [entry(cid) for cid in order]

    def key(item: dict) -> tuple:
        raced = item["candidate"] in state["scores"]
        dropped = item["dropped"]
        group = 0 if raced and not dropped else (1 if raced else 2)
        latest_drop = -(dropped["step"] if dropped else 0)
        return (group, latest_drop, -orientation * item["mean"], order.index(item["candidate"]))

    return sorted(entries, key=key)


def simulations(state: dict) -> int:
    """Extra simulations the race spent, the reference's included (screening runs not counted: every candidate
    has one anyway)."""
    return sum(len(seeds) for seeds in state["scores"].values()) + len(state["reference_scores"])


def seeds_run(state: dict, cid: str, search_seed: int) -> dict[int, float]:
    """A candidate's search-validation scores by seed: its screening run and any race runs."""
    return {search_seed: state["screening"][cid], **by_seed(state["scores"].get(cid, {}))}


def reference_runs(state: dict, search_seed: int) -> dict[int, float]:
    """The reference's search-validation scores by seed (none without a baseline)."""
    if state["reference_screening"] is None:
        return {}
    return {search_seed: state["reference_screening"], **by_seed(state["reference_scores"])}


def recorded_search_score(records: Records, search_seed: int) -> Callable[[str], float | None]:
    """A candidate's screening score from its search score record, at full precision (the ledger rounds it)."""

    def score_of(cid: str) -> float | None:
        found = scored_records(records, "search", cid, [search_seed], SCORE_RECORD).get(search_seed)
        return None if found is None else found[0]

    return score_of


def start(task: Task, rows: list[dict], settings: RaceSettings, score_of: Callable[[str], float | None]) -> dict:
    """The race's entry from the search ledger: compared candidates by their screening score (``score_of``), the
    baseline as the reference."""
    in_order = sorted(rows, key=lambda r: r["order"])  # ties go to the earlier candidate
    screening: dict[str, float] = {}
    reference: tuple[str, float] | None = None
    for row in in_order:
        score = score_of(row["candidate"]) if row["status"].scored else None
        if score is None:
            continue
        if row["status"].compared:
            screening[row["candidate"]] = score
        elif row["status"] is Status.BASELINE and reference is None:
            reference = (row["candidate"], score)
    return enter(screening, settings, task.orientation, reference)


def next_step(task: Task, state: dict, records: Records, settings: RaceSettings, search_seed: int) -> dict:
    """The race after the batch ``state`` asked for, read from the batch's score records."""
    batch = {
        cid: {seed: score for seed, (score, _) in scored_records(records, RACE_PHASE, cid, state["next_seeds"],
                                                                 SCORE_RECORD).items()}
        for cid in runners(state)
    }  # fmt: skip
    return advance(state, batch, settings, task.orientation, search_seed)


def summary(state: dict, ranked: list[dict], search_seed: int) -> dict:
    """What selection keeps of the race: its settings, the ranking, every candidate's search runs, the baseline's
    runs on the same seeds and the race's cost."""
    return {
        "settings": state["settings"],
        "search_seed": search_seed,
        "entered": len(state["scores"]),
        "ranking": ranked,
        "simulations": simulations(state),
        "steps": state["batches_run"],
        "search_runs": {e["candidate"]: seeds_run(state, e["candidate"], search_seed) for e in ranked},
        "reference": state.get("reference"),
        "reference_runs": reference_runs(state, search_seed),
    }


RACE_COLUMNS = ("rank", "candidate", "seeds", "screening", "mean", "gain_vs_baseline", "dropped_at_step", "p_vs_leader")


def table(race: dict, orientation: float) -> list[dict]:
    """Per screened candidate in selection order: its search seeds, screening score, mean over its seeds, mean
    paired gain over the baseline on the seeds both ran (None without a baseline), and the drop (or None)."""
    reference = by_seed(race["reference_runs"])
    out = []
    for rank, entry in enumerate(race["ranking"], start=1):
        runs = by_seed(race["search_runs"][entry["candidate"]])
        shared = [seed for seed in runs if seed in reference]
        gain = float(np.mean([orientation * (runs[s] - reference[s]) for s in shared])) if shared else None
        out.append({**entry, "rank": rank, "screening": runs[race["search_seed"]], "gain": gain})
    return out


def to_tsv(race: dict, orientation: float) -> str:
    """The race as a table (``table``), one line per screened candidate."""
    lines = ["\t".join(RACE_COLUMNS)]
    for row in table(race, orientation):
        dropped = row["dropped"] or {}
        cells = [
            str(row["rank"]),
            row["candidate"],
            str(row["seeds"]),
            f"{row['screening']:.6f}",
            f"{row['mean']:.6f}",
            "" if row["gain"] is None else f"{row['gain']:+.6f}",
            str(dropped.get("step", "")),
            f"{dropped['p']:.4f}" if "p" in dropped else ("crashed" if dropped else ""),
        ]
        lines.append("\t".join(cells))
    return "\n".join(lines) + "\n"
