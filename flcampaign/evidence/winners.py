"""Evidence for the selected winners: repeats, held-out, controls, attribution and the noise floor.

Everything here is read from the run and score records; nothing is simulated. Each winner is
paired with the baseline seed by seed on the search-validation split of the repeat runs and, for the
same final models, on the held-out split (where it also meets the best scalar control). The held-out
test confirms; with several winners, Holm's correction keeps the family-wise error at the level.
Both site aggregations are reported; the task's decides.
"""

import csv
import dataclasses
import io
import math
from pathlib import Path

from flcampaign.data.splits import partition_option
from flcampaign.evidence import adaptive_seeds, stats
from flcampaign.evidence.controls import BEST_CONTROL, control_arms
from flcampaign.evidence.racing import by_seed
from flcampaign.evidence.selection import repeated_ids
from flcampaign.files import atomic_write_text, read_json, write_json
from flcampaign.layout import HELDOUT_RECORD, SCORE_RECORD, Records
from flcampaign.records import scored_records
from flcampaign.task import Task

TSV_COLUMNS = (
    "candidate", "role", "reasons", "search_score", "search_seeds", "race_gain_mean", "race_ci_low", "race_ci_high",
    "seeds", "scores", "mean", "sd", "se",
    "diff_per_seed", "diff_mean", "diff_ci_low", "diff_ci_high", "p_one_sided", "p_two_sided", "p_holm",
    "heldout_scores", "heldout_mean", "heldout_diff_mean", "heldout_ci_low", "heldout_ci_high",
    "heldout_p_one_sided", "heldout_p_sequential", "heldout_p_holm",
    "added_seeds_decision", "control_heldout_diff_mean", "control_heldout_ci_low",
    "control_heldout_ci_high", "control_p_holm", "other_aggregation_diff_mean", "other_aggregation_heldout_diff_mean",
    "attribution",
)  # fmt: skip


# the site aggregation a task decides on -> the score record's field holding the other one
ALTERNATIVE_FIELD = {"pooled": "mean_over_sites", "mean": "pooled"}
ALTERNATIVE_NAME = {"pooled": "mean over sites", "mean": "pooled"}
STAGES = ("repeat", "heldout_vs_baseline", "versus_control")  # the paired tests each winner meets


def variance_sources(task: Task, partitions: dict[int, int]) -> dict[str, str]:
    """What differs between two repeat runs of one recipe, and what every run shares, from the records:
    ``partitions`` maps each repeat seed to the partition seed its score records name (none: one partition)."""
    seeded = "the run's seed (`job.py --seed`): everything the task's code draws from it, in the bundled sources "
    seeded += "the model's initialisation and each client's batch order"
    if not partitions:
        return {
            "varied": seeded,
            "fixed": f"the client partition and the search-validation and held-out rows (data.split_seed "
            f"{task.data['split_seed']}); intervals do not cover a different partition or different evaluation rows",
        }
    option = f"data.options.{partition_option(task, vary=True)}"
    return {
        "varied": f"{seeded}; and the client partition ({option} = the run's seed, {len(set(partitions.values()))} "
        "partitions, each run paired with the baseline's on the same one), with it which training rows each client "
        "holds and the search-validation rows carved from them",
        "fixed": f"the held-out rows (the same rows in every partition, checked by their digest; only the client "
        f"that holds each changes) and the search-validation carve's seed (data.split_seed {task.data['split_seed']})",
    }


def test_note(n_seeds: int) -> str:
    """Which tests, and the floor the distribution-free one cannot go below with this many seeds."""
    return (
        f"decisions use the one-sided paired t test over the {n_seeds} matched seeds (a gain is confirmed when its p, "
        "Holm-adjusted over the winners, is below 0.025: with one winner, when the 95% t interval of the paired mean "
        "lies above zero); the exact sign-flip permutation test is reported beside it as a distribution-free check, "
        f"and its smallest possible p is 1/{2**n_seeds} = {1 / 2**n_seeds:.4f} one-sided and {2 / 2**n_seeds:.4f} "
        "two-sided (with five seeds the two-sided minimum is 2/32 = 0.0625, so a two-sided p below 0.05 is "
        "impossible by construction)"
    )


def _fields(
    results: Path, phase: str, cid: str, seeds: list[int], name: str, fields: tuple[str, ...]
) -> dict[str, dict[int, float]]:
    """Field -> seed -> value for the runs of ``cid`` that produced a score, each record read once (a record
    without a field, such as an older one without the other site aggregation, leaves that seed out)."""
    read: dict[Path, dict] = {}

    def remember(path: Path) -> dict:
        read[path] = read_json(path)
        return read[path]

    found = scored_records(Records(Path(results)), phase, cid, seeds, name, remember)
    out: dict[str, dict[int, float]] = {}
    for field in fields:
        values = ((seed, read[path].get(field)) for seed, (_, path) in found.items())
        out[field] = {seed: float(value) for seed, value in values if isinstance(value, int | float)}
    return out


def _scores(results: Path, phase: str, cid: str, seeds: list[int], name: str) -> dict[int, float]:
    """Seed -> score for the runs of ``cid`` that produced a score."""
    return _fields(results, phase, cid, seeds, name, ("score",))["score"]


def _pair(task: Task, arm: dict[int, float], reference: dict[int, float]) -> stats.PairedSummary | None:
    seeds = sorted(set(arm) & set(reference))
    if len(seeds) < 2:
        return None
    return stats.paired([arm[s] for s in seeds], [reference[s] for s in seeds], task.orientation)


def _sequential(
    task: Task,
    pair: stats.PairedSummary | None,
    arm: dict[int, float],
    reference: dict[int, float],
    seeds: list[int],
    looks: list[int],
    later: float,
) -> stats.PairedSummary | None:
    """``pair`` with its group-sequential p, from the gains in the order their seeds were added."""
    if pair is None:
        return None
    gains = [task.gain(arm[s], reference[s]) for s in seeds if s in arm and s in reference]
    return dataclasses.replace(pair, p_sequential=adaptive_seeds.sequential_p(gains, tuple(looks), later))


def _fmt(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.6f}"


def max_weight_difference(model_a: Path, model_b: Path) -> float:
    """Largest absolute parameter difference between two saved global models (torch imported here: the CLI
    reads the winners module and should not pay for torch on every call)."""
    import torch

    a = torch.load(model_a, map_location="cpu", weights_only=True)["model"]
    b = torch.load(model_b, map_location="cpu", weights_only=True)["model"]
    return float(max((torch.as_tensor(a[k]) - torch.as_tensor(b[k])).abs().max() for k in a))


def noise_floor(results: Path, baseline: str, repeat_seeds: list[int], rerun_seed: int) -> dict:
    """Spread of the baseline over the repeat seeds, and how far a same-seed re-run lands from the first run."""
    base = _scores(results, "repeat", baseline, repeat_seeds, SCORE_RECORD)
    floor: dict = {"baseline": baseline, "seeds": sorted(base), "scores": [base[s] for s in sorted(base)]}
    floor.update(stats.describe(floor["scores"]) if len(base) >= 2 else {})
    records = Records(Path(results))
    first, again = records.run_dir("repeat", baseline, rerun_seed), records.run_dir("rerun", baseline, rerun_seed)
    rerun = _scores(results, "rerun", baseline, [rerun_seed], SCORE_RECORD)
    if rerun_seed in rerun and rerun_seed in base:
        floor["same_seed"] = {
            "seed": rerun_seed,
            "first": base[rerun_seed],
            "rerun": rerun[rerun_seed],
            "score_difference": abs(base[rerun_seed] - rerun[rerun_seed]),
            "max_weight_difference": max_weight_difference(first / "global_model.pt", again / "global_model.pt"),
        }
    return floor


def build(
    task: Task,
    selection: dict,
    results: Path,
    repeat_seeds: list[int],
    search_seed: int,
    added: dict | None = None,
    controls_record: dict | None = None,
) -> dict:
    """All winner evidence as one dictionary (the source of winners.tsv and the report's tables). ``added`` is the
    adaptive seeds' final state: the seeds each winner ended with, and the plan its sequential test follows.
    ``controls_record`` is ``controls.json`` (``controls.control_arms``); without it, the selection's random arm."""
    controls_record = controls_record or control_arms(selection["controls"], results, search_seed)
    baseline = selection["baseline"]
    other = ALTERNATIVE_FIELD[task.metric["site_aggregation"]]
    added = added or {"arms": {}, "repeat_seeds": repeat_seeds, "looks": [len(repeat_seeds)], "settings": {"seeds": []}}
    sequential = len(added["looks"]) > 1 and bool(added["arms"])
    baseline_seeds = [*repeat_seeds, *adaptive_seeds.added_seeds(added)]
    added_runs = adaptive_seeds.simulations(added)

    def seeds_of(cid: str) -> list[int]:
        return added["arms"][cid]["seeds"] if cid in added["arms"] else list(repeat_seeds)

    partitions: dict[int, int] = {}  # repeat seed -> the partition seed its score records name

    def repeats(cid: str | None, name: str, seeds: list[int]) -> tuple[dict[int, float], dict[int, float]]:
        """(the deciding scores, the other aggregation's) of cid's repeat runs on one split."""
        found = _fields(results, "repeat", cid, seeds, name, ("score", other, "partition_seed")) if cid else {}
        partitions.update({seed: int(value) for seed, value in found.get("partition_seed", {}).items()})
        return found.get("score", {}), found.get(other, {})

    base, base_other = repeats(baseline, SCORE_RECORD, baseline_seeds)
    base_heldout, held_other = repeats(baseline, HELDOUT_RECORD, baseline_seeds)
    base_search = (
        _scores(results, "search", baseline, [search_seed], SCORE_RECORD).get(search_seed) if baseline else None
    )
    control = _scores(results, "repeat", BEST_CONTROL, repeat_seeds, HELDOUT_RECORD) if selection["controls"] else {}
    arms = [(w["candidate"], "winner", w["reasons"]) for w in selection["winners"]]
    if selection["controls"]:
        tuners = " (random and TPE arms)" if controls_record["tpe"] else ""
        arms.append((BEST_CONTROL, "best control", [f"best same-budget scalar control by search score{tuners}"]))
    race = selection["race"]
    race_runs, race_reference = race["search_runs"], by_seed(race["reference_runs"])
    entries = []
    for cid, role, reasons in arms:
        seeds = seeds_of(cid)
        scores, scores_other = repeats(cid, SCORE_RECORD, seeds)
        heldout, heldout_other = repeats(cid, HELDOUT_RECORD, seeds)
        if cid == BEST_CONTROL:
            source = read_json(Records(Path(results)).validation(BEST_CONTROL)).get("source_control")
            search = _scores(results, "control", source, [search_seed], SCORE_RECORD) if source else {}
            reasons = [*reasons, f"= {source}"] if source else reasons
        else:
            search = _scores(results, "search", cid, [search_seed], SCORE_RECORD)
        race_pair = _pair(task, by_seed(race_runs.get(cid, {})), race_reference)
        repeat_pair = _pair(task, scores, base)
        heldout_pair = _pair(task, heldout, base_heldout)
        control_pair = _pair(task, heldout, control) if role == "winner" and control else None
        other_repeat = _pair(task, scores_other, base_other)
        other_heldout = _pair(task, heldout_other, held_other)
        if sequential and role == "winner":
            later = added["settings"]["later_weight"]
            repeat_pair = _sequential(task, repeat_pair, scores, base, seeds, added["looks"], later)
            heldout_pair = _sequential(task, heldout_pair, heldout, base_heldout, seeds, added["looks"], later)
        search_score = search.get(search_seed)
        entries.append(
            {
                "candidate": cid,
                "role": role,
                "reasons": reasons,
                "search_score": search_score,
                "search_gain": None
                if search_score is None or base_search is None
                else task.gain(search_score, base_search),
                "search_seeds": len(race_runs.get(cid, {})) or (1 if search_score is not None else 0),
                "race_gain": None if race_pair is None else race_pair.as_dict(),
                "seeds": seeds,
                "added_seeds": adaptive_seeds.last_decision(added, cid),
                "scores": scores,
                "heldout": heldout,
                "summary": stats.describe(list(scores.values())) if len(scores) >= 2 else None,
                "diff_per_seed": {s: task.gain(scores[s], base[s]) for s in sorted(set(scores) & set(base))},
                "heldout_diff_per_seed": {
                    s: task.gain(heldout[s], base_heldout[s]) for s in sorted(set(heldout) & set(base_heldout))
                },
                "repeat": None if repeat_pair is None else repeat_pair.as_dict(),
                "heldout_vs_baseline": None if heldout_pair is None else heldout_pair.as_dict(),
                "versus_control": None if control_pair is None else control_pair.as_dict(),
                "other_aggregation": {
                    "repeat": None if other_repeat is None else other_repeat.as_dict(),
                    "heldout_vs_baseline": None if other_heldout is None else other_heldout.as_dict(),
                },
                "attribution": "",
            }
        )
    changed = _confirm(entries)
    control_gains = next((e["heldout_vs_baseline"] for e in entries if e["role"] == "best control"), None)
    control_confirmed = bool(control_gains and control_gains["confirmed"])
    for e in entries:
        if e["role"] == "winner":
            e["attribution"] = _attribution(e, control_confirmed)
    return {
        "metric": task.metric,
        "orientation": task.orientation,
        "baseline": baseline,
        "baseline_scores": base,
        "baseline_heldout": base_heldout,
        "baseline_seeds": baseline_seeds,
        "repeat_seeds": repeat_seeds,
        "entries": entries,
        "controls": controls_record["controls"],
        "tpe": controls_record["tpe"],
        "baseline_search_score": base_search,
        "test": test_note(len(repeat_seeds)),
        "adaptive": {
            "enabled": sequential,
            "settings": added["settings"],
            "looks": added["looks"],
            "nominal": added.get("nominal"),
            "added_seeds": adaptive_seeds.added_seeds(added),
            "simulations": added_runs,
            "history": {cid: arm["history"] for cid, arm in added["arms"].items()},
        },
        "multiplicity": {
            "correction": "Holm",
            "level": stats.CONFIRM_LEVEL,
            "family": sum(e["role"] == "winner" for e in entries),
            "changed": changed,
        },
        "power": power(entries, len(repeat_seeds)),
        "cost": {
            **cost(selection, len(repeat_seeds)),
            "added_seeds": added_runs,
            "tpe_controls": sum(c["arm"] == "tpe" for c in controls_record["controls"]),
        },
        "race": {**race, "winners": [w["candidate"] for w in selection["winners"]]},
        "aggregation": task.metric["site_aggregation"],
        "variance_sources": variance_sources(task, partitions),
        "other_aggregation": ALTERNATIVE_NAME[task.metric["site_aggregation"]],
        "attribution_rules": stats.ATTRIBUTIONS,
        "confirmation": stats.CONFIRMATION,
    }


def cost(selection: dict, n_seeds: int) -> dict:
    """Simulations per stage: screening (one run per scored candidate and the baseline), the race, the repeats
    (each repeated arm on every repeat seed, the baseline's same-seed re-run) and the controls' search runs. The
    race is what selection on more than one run costs; the repeats are the fixed protocol's cost."""
    race = selection["race"]
    repeated = repeated_ids(selection)
    return {
        "screening": selection["n_scored_agent_candidates"] + bool(selection["baseline"]),
        "race": race["simulations"],
        "race_steps": race["steps"],
        "repeats": len(repeated) * n_seeds + bool(selection["baseline"]),
        "winner_repeats": len(selection["winners"]) * n_seeds,
        "controls": len(selection["controls"]),
    }


def _confirm(entries: list[dict]) -> list[str]:
    """Holm over the winners, stage by stage: each paired test gets ``p_holm`` and ``confirmed`` (adjusted one-sided
    t p below the level). Returns the tests whose interval is above zero but whose adjusted p is not below it."""
    changed = []
    family = [e for e in entries if e["role"] == "winner"]
    for stage in STAGES:
        tested = [e for e in family if e[stage] is not None]
        deciding = [
            e[stage]["p_t_one_sided"] if e[stage].get("p_sequential") is None else e[stage]["p_sequential"]
            for e in tested
        ]
        for e, adjusted in zip(tested, stats.holm(deciding), strict=True):
            e[stage]["p_holm"] = adjusted
            e[stage]["confirmed"] = adjusted < stats.CONFIRM_LEVEL
            if e[stage]["ci_low"] > 0 and not e[stage]["confirmed"]:
                changed.append(f"{e['candidate']}: {stage.replace('_', ' ')}")
    for e in entries:
        for stage in STAGES:
            if e[stage] is not None and "confirmed" not in e[stage]:
                e[stage]["confirmed"] = e[stage]["ci_low"] > 0
    return changed


def _attribution(entry: dict, control_confirmed: bool) -> str:
    """The control recovers a gain when its own held-out gain is confirmed and the winner does not confirm a gain
    over it; a control that gains nothing recovers nothing."""
    repeat, heldout, control = entry["repeat"], entry["heldout_vs_baseline"], entry["versus_control"]
    if repeat is None or heldout is None:
        return "not enough repeat runs to decide"
    recovered = None if control is None else control_confirmed and not control["confirmed"]
    return stats.attribute(heldout["confirmed"], repeat["confirmed"], recovered)


def power(entries: list[dict], n_seeds: int) -> dict:
    """Per split: the pooled sd of the winners' paired differences to the baseline and the smallest true gain
    the paired test over ``n_seeds`` seeds finds with 80% power (the campaign's minimum detectable effect)."""
    out = {}
    for split, stage in (("search-validation", "repeat"), ("held-out", "heldout_vs_baseline")):
        arms = [e[stage] for e in entries if e["role"] == "winner" and e[stage] is not None and e[stage]["n"] >= 2]
        df = sum(a["n"] - 1 for a in arms)
        if not df:
            continue
        sd = math.sqrt(sum((a["n"] - 1) * a["sd"] ** 2 for a in arms) / df)
        out[split] = {
            "paired_sd": sd,
            "arms": len(arms),
            "seeds": n_seeds,
            "mde": stats.minimum_detectable_effect(sd, n_seeds) if sd > 0 else 0.0,
            "power": stats.TARGET_POWER,
        }
    return out


def to_tsv(evidence: dict) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TSV_COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    for e in evidence["entries"]:
        summary, repeat, race = e["summary"] or {}, e["repeat"] or {}, e["race_gain"] or {}
        held, versus, other = e["heldout_vs_baseline"] or {}, e["versus_control"] or {}, e["other_aggregation"]
        writer.writerow(
            {
                "candidate": e["candidate"],
                "role": e["role"],
                "reasons": "; ".join(e["reasons"]),
                "search_score": _fmt(e["search_score"]),
                "search_seeds": str(e["search_seeds"]),
                "race_gain_mean": _fmt(race.get("mean")),
                "race_ci_low": _fmt(race.get("ci_low")),
                "race_ci_high": _fmt(race.get("ci_high")),
                "seeds": ",".join(str(s) for s in e["scores"]),
                "scores": ",".join(_fmt(v) for v in e["scores"].values()),
                "mean": _fmt(summary.get("mean")),
                "sd": _fmt(summary.get("sd")),
                "se": _fmt(summary.get("se")),
                "diff_per_seed": ",".join(_fmt(v) for v in e["diff_per_seed"].values()),
                "diff_mean": _fmt(repeat.get("mean")),
                "diff_ci_low": _fmt(repeat.get("ci_low")),
                "diff_ci_high": _fmt(repeat.get("ci_high")),
                "p_one_sided": _fmt(repeat.get("p_one_sided")),
                "p_two_sided": _fmt(repeat.get("p_two_sided")),
                "p_holm": _fmt(repeat.get("p_holm")),
                "heldout_scores": ",".join(_fmt(v) for v in e["heldout"].values()),
                "heldout_mean": _fmt(stats.describe(list(e["heldout"].values()))["mean"]) if e["heldout"] else "",
                "heldout_diff_mean": _fmt(held.get("mean")),
                "heldout_ci_low": _fmt(held.get("ci_low")),
                "heldout_ci_high": _fmt(held.get("ci_high")),
                "heldout_p_one_sided": _fmt(held.get("p_one_sided")),
                "heldout_p_sequential": _fmt(held.get("p_sequential")),
                "heldout_p_holm": _fmt(held.get("p_holm")),
                "added_seeds_decision": (e.get("added_seeds") or {}).get("status", ""),
                "control_heldout_diff_mean": _fmt(versus.get("mean")),
                "control_heldout_ci_low": _fmt(versus.get("ci_low")),
                "control_heldout_ci_high": _fmt(versus.get("ci_high")),
                "control_p_holm": _fmt(versus.get("p_holm")),
                "other_aggregation_diff_mean": _fmt((other["repeat"] or {}).get("mean")),
                "other_aggregation_heldout_diff_mean": _fmt((other["heldout_vs_baseline"] or {}).get("mean")),
                "attribution": e["attribution"],
            }
        )
    return buffer.getvalue()


def write(
    task: Task,
    selection: dict,
    results: Path,
    repeat_seeds: list[int],
    search_seed: int,
    rerun_seed: int,
    tsv: Path,
    out_json: Path,
    added: dict | None = None,
    controls_record: dict | None = None,
) -> dict:
    evidence = build(task, selection, results, repeat_seeds, search_seed, added, controls_record)
    evidence["noise_floor"] = (
        noise_floor(results, selection["baseline"], repeat_seeds, rerun_seed) if selection["baseline"] else {}
    )
    atomic_write_text(tsv, to_tsv(evidence))
    write_json(out_json, evidence)
    return evidence
