"""Evidence for the selected winners: repeats, held-out, controls, attribution and the noise floor.

Everything here is read from the run and score records; nothing is simulated. Each winner is
paired with the baseline seed by seed (and with the best scalar control), on the search-validation
split of the repeat runs and, for the same final models, on the held-out split.
"""

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path

from flcampaign.evidence import stats
from flcampaign.evidence.controls import BEST_CONTROL
from flcampaign.files import atomic_write_text, read_json, write_json
from flcampaign.layout import Records
from flcampaign.task import Task

TSV_COLUMNS = (
    "candidate", "role", "reasons", "search_score", "seeds", "scores", "mean", "sd", "se",
    "diff_per_seed", "diff_mean", "diff_ci_low", "diff_ci_high", "p_one_sided", "p_two_sided",
    "heldout_scores", "heldout_mean", "heldout_diff_mean", "heldout_ci_low", "heldout_ci_high",
    "heldout_p_one_sided", "control_diff_mean", "control_ci_low", "control_ci_high", "attribution",
)  # fmt: skip


def test_note(n_seeds: int) -> str:
    """Which test, and the floor its p value cannot go below with this many seeds."""
    return (
        f"exact sign-flip permutation test over the {n_seeds} matched seeds, one-sided (candidate better than "
        f"baseline); its smallest possible p is 1/{2**n_seeds} = {1 / 2**n_seeds:.4f} one-sided and "
        f"{2 / 2**n_seeds:.4f} two-sided (with five seeds the two-sided minimum is 2/32 = 0.0625, so a two-sided "
        "p below 0.05 is impossible by construction); intervals are 95% t intervals of the paired mean"
    )


def scored_records(
    records: Records,
    phase: str,
    cid: str,
    seeds: list[int],
    name: str,
    read: Callable[[Path], dict | None] = read_json,
) -> dict[int, tuple[float, Path]]:
    """Seed -> (score, path) of each score record (``score.json`` or ``heldout.json``) of ``cid`` that holds a
    score, each read once: how the evidence and ``verify`` find the scores they use (crashed seeds are left
    out). ``read`` may return None for a record it cannot read (``verify`` reports those itself)."""
    out = {}
    for seed in seeds:
        path = records.run_dir(phase, cid, seed) / name
        record = read(path) if path.is_file() else None
        if isinstance(record, dict) and record.get("state") == "ok":
            out[seed] = (float(record["score"]), path)
    return out


def _scores(results: Path, phase: str, cid: str, seeds: list[int], name: str) -> dict[int, float]:
    """Seed -> score for the runs of ``cid`` that produced a score."""
    found = scored_records(Records(Path(results)), phase, cid, seeds, name)
    return {seed: score for seed, (score, _) in found.items()}


def _pair(task: Task, arm: dict[int, float], reference: dict[int, float]) -> stats.PairedSummary | None:
    seeds = sorted(set(arm) & set(reference))
    if len(seeds) < 2:
        return None
    return stats.paired([arm[s] for s in seeds], [reference[s] for s in seeds], task.orientation)


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
    base = _scores(results, "repeat", baseline, repeat_seeds, "score.json")
    floor: dict = {"baseline": baseline, "seeds": sorted(base), "scores": [base[s] for s in sorted(base)]}
    floor.update(stats.describe(floor["scores"]) if len(base) >= 2 else {})
    records = Records(Path(results))
    first, again = records.run_dir("repeat", baseline, rerun_seed), records.run_dir("rerun", baseline, rerun_seed)
    rerun = _scores(results, "rerun", baseline, [rerun_seed], "score.json")
    if rerun_seed in rerun and rerun_seed in base:
        floor["same_seed"] = {
            "seed": rerun_seed,
            "first": base[rerun_seed],
            "rerun": rerun[rerun_seed],
            "score_difference": abs(base[rerun_seed] - rerun[rerun_seed]),
            "max_weight_difference": max_weight_difference(first / "global_model.pt", again / "global_model.pt"),
        }
    return floor


def build(task: Task, selection: dict, results: Path, repeat_seeds: list[int], search_seed: int) -> dict:
    """All winner evidence as one dictionary (the source of winners.tsv and the report's tables)."""
    baseline = selection["baseline"]
    base = _scores(results, "repeat", baseline, repeat_seeds, "score.json") if baseline else {}
    base_heldout = _scores(results, "repeat", baseline, repeat_seeds, "heldout.json") if baseline else {}
    control = _scores(results, "repeat", BEST_CONTROL, repeat_seeds, "score.json") if selection["controls"] else {}
    arms = [(w["candidate"], "winner", w["reasons"]) for w in selection["winners"]]
    if selection["controls"]:
        arms.append((BEST_CONTROL, "best control", ["best same-budget scalar control by search score"]))
    entries = []
    for cid, role, reasons in arms:
        scores = _scores(results, "repeat", cid, repeat_seeds, "score.json")
        heldout = _scores(results, "repeat", cid, repeat_seeds, "heldout.json")
        if cid == BEST_CONTROL:
            source = read_json(Records(Path(results)).validation(BEST_CONTROL)).get("source_control")
            search = _scores(results, "control", source, [search_seed], "score.json") if source else {}
            reasons = [*reasons, f"= {source}"] if source else reasons
        else:
            search = _scores(results, "search", cid, [search_seed], "score.json")
        repeat_pair = _pair(task, scores, base)
        heldout_pair = _pair(task, heldout, base_heldout)
        control_pair = _pair(task, scores, control) if role == "winner" and control else None
        if repeat_pair is None or heldout_pair is None:
            attribution = "not enough repeat runs to decide"
        else:
            attribution = stats.attribute(repeat_pair, heldout_pair, control_pair)
        entries.append(
            {
                "candidate": cid,
                "role": role,
                "reasons": reasons,
                "search_score": search.get(search_seed),
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
                "attribution": attribution if role == "winner" else "",
            }
        )
    return {
        "metric": task.metric,
        "baseline": baseline,
        "baseline_scores": base,
        "baseline_heldout": base_heldout,
        "repeat_seeds": repeat_seeds,
        "entries": entries,
        "controls": [
            {**c, "search_score": _scores(results, "control", c["id"], [search_seed], "score.json").get(search_seed)}
            for c in selection["controls"]
        ],
        "test": test_note(len(repeat_seeds)),
        "attribution_rules": stats.ATTRIBUTIONS,
    }


def to_tsv(evidence: dict) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=TSV_COLUMNS, delimiter="\t", lineterminator="\n")
    writer.writeheader()
    for e in evidence["entries"]:
        summary, repeat = e["summary"] or {}, e["repeat"] or {}
        held, versus = e["heldout_vs_baseline"] or {}, e["versus_control"] or {}
        writer.writerow(
            {
                "candidate": e["candidate"],
                "role": e["role"],
                "reasons": "; ".join(e["reasons"]),
                "search_score": _fmt(e["search_score"]),
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
                "heldout_scores": ",".join(_fmt(v) for v in e["heldout"].values()),
                "heldout_mean": _fmt(stats.describe(list(e["heldout"].values()))["mean"]) if e["heldout"] else "",
                "heldout_diff_mean": _fmt(held.get("mean")),
                "heldout_ci_low": _fmt(held.get("ci_low")),
                "heldout_ci_high": _fmt(held.get("ci_high")),
                "heldout_p_one_sided": _fmt(held.get("p_one_sided")),
                "control_diff_mean": _fmt(versus.get("mean")),
                "control_ci_low": _fmt(versus.get("ci_low")),
                "control_ci_high": _fmt(versus.get("ci_high")),
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
) -> dict:
    evidence = build(task, selection, results, repeat_seeds, search_seed)
    evidence["noise_floor"] = (
        noise_floor(results, selection["baseline"], repeat_seeds, rerun_seed) if selection["baseline"] else {}
    )
    atomic_write_text(tsv, to_tsv(evidence))
    write_json(out_json, evidence)
    return evidence
