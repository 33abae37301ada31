"""The campaign report, built from the ledger and the per-candidate records only (no simulation).

One function per section gathers that section's figures and tables; the prose lives in the template
``templates/report.md.j2``. Markdown is the source; the PDF is rendered from it by pandoc (HTML) and
WeasyPrint. Every gain is oriented by the task (positive = better), whatever the metric's direction.
"""

import importlib.metadata
import platform
import re
import statistics
from pathlib import Path
from typing import Any

import jinja2

from flcampaign.agent.guard import literature_batches
from flcampaign.contract.literature import proposal_total, ranked_proposals
from flcampaign.evidence import racing
from flcampaign.evidence.arm_comparison import ARM_NAMES, arm_runs, best_so_far, equal_cost
from flcampaign.evidence.cost import PHASE_NAMES, campaign_cost
from flcampaign.files import atomic_write_text, read_json, read_yaml
from flcampaign.layout import Records
from flcampaign.records import Status, format_row
from flcampaign.task import Task

PACKAGES = ("nvflare", "torch", "snakemake", "numpy", "pandas", "scikit-learn")
TEMPLATE = "report.md.j2"
PDF_CSS = """
@page { size: A4; margin: 16mm; }
@page wide { size: A4 landscape; }
.wide { page: wide; }
body { page: main; font-family: sans-serif; font-size: 9.5pt; line-height: 1.35; }
table { border-collapse: collapse; font-size: 7.5pt; margin: 6px 0; }
table:has(> colgroup) { table-layout: fixed; width: 100%; }
.wide table { font-size: 7pt; }
th, td { border: 1px solid #bbb; padding: 2px 4px; vertical-align: top; overflow-wrap: anywhere; }
pre, code { font-size: 7.5pt; white-space: pre-wrap; word-break: break-all; }
img { max-width: 100%; }
h1, h2, h3 { color: #1a5276; break-after: avoid; }
"""
LEDGER_TABLE = (
    "order", "candidate", "parent", "status", "score", "best_so_far", "runtime_seconds", "family", "changed_files",
    "tree_sha256",
)  # fmt: skip


CELL_WIDTH = 40  # characters: a column asks for its longest cell up to this
WORD_WIDTH = 12  # characters: and gets at least its longest word up to this (longer ones, hashes and paths, break)
CELL_PADDING = 3  # characters a cell's padding and border take, and pandoc's rounding down to whole percents
LINE_WIDTH = {False: 104, True: 166}  # digits a table line holds: portrait at 7.5 pt, landscape (wide) at 7 pt
WORD_BREAKS = re.compile(r"\s+|(?<=-)(?=[A-Za-z])")  # where a line may break: spaces, a hyphen before a letter


def _longest_word(texts: list[str]) -> int:
    return max((len(w) for text in texts for w in WORD_BREAKS.split(text)), default=1)


def _widths(headers: list[str], body: list[list[str]], wide: bool) -> list[int]:
    """Each column's width in characters: its header's and (capped) its cells' longest word at least, its longest
    cell (capped) if the line has room, and otherwise the room left shared out in proportion to what the columns ask
    beyond their longest word."""
    floors, wants = [], []
    for i, header in enumerate(headers):
        cells = [row[i] for row in body]
        floors.append(max(_longest_word([header]), min(_longest_word(cells), WORD_WIDTH)) + CELL_PADDING)
        wants.append(max(floors[-1], min(max((len(c) for c in cells), default=0), CELL_WIDTH) + CELL_PADDING))
    spare, extra = LINE_WIDTH[wide] - sum(floors), sum(wants) - sum(floors)
    if extra <= spare:
        return wants
    return [f + (w - f) * max(spare, 0) // extra for f, w in zip(floors, wants, strict=True)]


def _table(headers: list[str], rows: list[list], wide: bool = False) -> str:
    """A pipe table whose separator row gives each column's width in dashes; pandoc turns them into relative column
    widths when a line is longer than its 72 columns, that is when the table has to wrap. ``wide``: laid out for a
    landscape page (the template sets such a table in a ``.wide`` div)."""

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    body = [[cell(v) for v in row] for row in rows]
    separator = "| " + " | ".join("-" * w for w in _widths(headers, body, wide)) + " |"
    lines = ["| " + " | ".join(headers) + " |", separator, *("| " + " | ".join(row) + " |" for row in body)]
    return "\n".join(lines)


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def has_interval(summary: dict) -> bool:
    return all(summary.get(key) is not None for key in ("mean", "ci_low", "ci_high"))


def interval_text(summary: dict | None) -> str:
    """A gain with its 95% interval, the mean alone, or n/a: whatever the summary holds (the report and the
    dashboard write every interval this way)."""
    if not summary or summary.get("mean") is None:
        return "n/a"
    if not has_interval(summary):
        return f"{summary['mean']:+.4f}"
    return f"{summary['mean']:+.4f} [{summary['ci_low']:+.4f}, {summary['ci_high']:+.4f}]"


def _vs_baseline(task: Task, score: float | None, baseline: dict | None) -> str:
    """A row's oriented gain over the baseline, as the report prints it ('' without a score or a baseline)."""
    return "" if score is None or baseline is None else f"{task.gain(score, baseline['score']):+.4f}"


def environment() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"python": platform.python_version(), "platform": platform.platform(), **versions}


def objective_section(task: Task, state: dict) -> dict[str, Any]:
    """The task, its fixed budget, the metric and what a candidate may change."""
    return {
        "title": task.title,
        "text": task.objective,
        "sandbox_notice": state.get("sandbox_notice", ""),
        "budget_note": task.budget_note,
        "budget_table": _table(["budget field", "value"], [[k, v] for k, v in task.budget.items()]),
        "metric": task.metric["name"],
        "kind": task.metric["kind"],
        "better": "higher" if task.orientation > 0 else "lower",
        "site_aggregation": task.metric["site_aggregation"],
        "editable": ", ".join(task.surface["editable"]),
        "creatable": ", ".join(task.surface["creatable"]),
        "fixed": ", ".join(task.surface["fixed"]),
        "knob_table": _table(
            ["knob", "type", "range / choices", "default"],
            [
                [n, s["type"], s.get("choices", f"{s.get('min')} .. {s.get('max')}"), s["default"]]
                for n, s in task.knobs.items()
            ],
        ),
    }


def best_section(task: Task, state: dict) -> dict[str, str] | None:
    """Baseline against the campaign's best search score, the gain oriented; None before a baseline."""
    baseline, best = state.get("baseline"), state.get("best")
    if not (baseline and best):
        return None
    gain = task.gain(best["score"], baseline["score"])
    return {
        "table": _table(
            ["", "candidate", task.metric["name"]],
            [
                ["baseline", baseline["candidate"], f"{baseline['score']:.4f}"],
                ["best", best["candidate"], f"{best['score']:.4f}"],
            ],
        ),
        "gain": f"{gain:+.4f}",
        "relative": f"{100 * gain / abs(baseline['score']):+.1f}%" if baseline["score"] else "n/a",
    }


def decisions_section(task: Task, rows: list[dict], state: dict) -> dict[str, str]:
    """Counts by status and every row's decision with its oriented gain over the baseline."""
    baseline = state.get("baseline")
    table = []
    for row in rows:
        cells = format_row(row)
        gain = _vs_baseline(task, row["score"], baseline)
        table.append(
            [row["order"], row["candidate"], cells["status"], cells["score"], gain, row["kind"], row["description"]]
        )
    return {
        "counts": ", ".join(f"{k}: {v}" for k, v in state["counts"].items() if v),
        "table": _table(["#", "candidate", "status", task.metric["name"], "vs baseline", "kind", "description"], table),
    }


def runtime_section(rows: list[dict]) -> dict[str, str] | None:
    """Wall time of the simulations and the devices they ran on (the ledger's columns); None when nothing was
    simulated."""
    simulated = [r for r in rows if r["runtime_seconds"]]
    if not simulated:
        return None
    seconds = [r["runtime_seconds"] for r in simulated]
    devices = {r["device"] or "unknown" for r in simulated}
    return {
        "simulations": str(len(seconds)),
        "total": f"{sum(seconds):.0f}",
        "mean": f"{sum(seconds) / len(seconds):.1f}",
        "min": f"{min(seconds):.1f}",
        "max": f"{max(seconds):.1f}",
        "devices": ", ".join(sorted(devices)),
    }


def compute_section(rows: list[dict], task: Task) -> dict[str, Any] | None:
    """Each scored run's compute against the budget: CPU (and GPU) seconds and the share of the reference."""
    measured = [r for r in rows if r["cpu_seconds"] is not None]
    if not measured:
        return None
    cap = task.budget.get("max_compute_ratio", 1.5)
    ratios = [r["compute_ratio"] for r in measured if r["compute_ratio"] is not None]
    over = [r["candidate"] for r in measured if r["compute_ratio"] is not None and r["compute_ratio"] > cap]
    table = []
    for row in measured:
        cells = format_row(row)
        table.append(
            [
                row["candidate"],
                cells["status"],
                cells["cpu_seconds"],
                cells["gpu_seconds"] or "-",
                cells["peak_memory_mb"] or "-",
                " ".join(filter(None, (cells["device"], cells["slot"] and f"({cells['slot']})"))),
                cells["compute_ratio"] or "-",
            ]
        )
    return {
        "cap": cap,
        "runs": len(measured),
        "cpu_seconds": f"{sum(r['cpu_seconds'] for r in measured):.0f}",
        "ratios": (f"{min(ratios):.2f}", f"{max(ratios):.2f}") if ratios else None,
        "over": ", ".join(over) if over else "none",
        "table": _table(["candidate", "status", "CPU s", "GPU s", "peak memory MB", "device (slot)", "ratio"], table),
    }


def cost_section(records: Records) -> dict[str, Any] | None:
    """What the campaign spent per phase, counted from every run record after the last phase (``cost``), and what
    the agents say they spent, labelled as theirs; None when nothing ran."""
    cost = campaign_cost(records.root)
    if not cost["phases"]:
        return None

    def line(name: str, spent: dict[str, Any]) -> list[str]:
        return [
            name,
            str(spent["runs"]),
            _num(spent["wall_seconds"], 0),
            _num(spent["cpu_seconds"], 0),
            _num(spent["gpu_seconds"], 0) or "-",
            _num(spent["scoring_seconds"], 0),
            _num(spent["peak_memory_mb"], 0) or "-",
            ", ".join(spent["devices"]),
        ]

    table = [line(PHASE_NAMES[phase], spent) for phase, spent in cost["phases"].items()]
    table.append(line("**total**", cost["totals"]))
    reported = cost["self_reported"]
    return {
        "table": _table(
            ["phase", "runs", "wall s", "CPU s", "GPU s", "scoring s", "largest peak memory MB", "devices"], table
        ),
        "self_reported": (
            f"{reported['candidates']} candidates report {reported['tokens']:.0f} tokens and "
            f"{reported['usd']:.2f} USD (self-reported by the agent: not measured, not checked)"
            if reported["candidates"]
            else None
        ),
    }


def winners_section(evidence: dict | None, repeats_plot: str, race_plot: str) -> dict[str, Any] | None:
    """Repeats, held-out, controls, attribution and noise floor of the selected winners."""
    if evidence is None:
        return None
    metric = evidence["metric"]["name"]
    section: dict[str, Any] = {"selected": bool(evidence["entries"])}
    if not evidence["entries"]:
        return section
    base = evidence["baseline_scores"]
    repeats = [[evidence["baseline"], "baseline", "", ", ".join(_num(v) for v in base.values()), "", "", "", "", ""]]
    for e in evidence["entries"]:
        repeat, summary = e["repeat"] or {}, e["summary"] or {}
        repeats.append(
            [
                e["candidate"],
                " ".join([e["role"], *(r for r in e["reasons"] if r.startswith("= "))]),
                _num(e["search_score"]),
                ", ".join(_num(v) for v in e["scores"].values()),
                f"{_num(summary.get('mean'))} ± {_num(summary.get('sd'))}" if summary else "",
                interval_text(e["repeat"]),
                _num(repeat.get("p_one_sided"), 3),
                _num(repeat.get("p_two_sided"), 3),
                _num(repeat.get("p_holm"), 3),
            ]
        )
    heldout = [
        [
            evidence["baseline"],
            "baseline",
            ", ".join(_num(v) for v in evidence["baseline_heldout"].values()),
            "",
            "",
            "",
        ]
    ]
    for e in evidence["entries"]:
        held = e["heldout_vs_baseline"] or {}
        heldout.append(
            [
                e["candidate"],
                e["role"],
                ", ".join(_num(v) for v in e["heldout"].values()),
                interval_text(e["heldout_vs_baseline"]),
                _num(held.get("p_one_sided"), 3),
                _num(held.get("p_holm"), 3),
            ]
        )
    controls = evidence["controls"]
    other = evidence["other_aggregation"]
    evidence_rows = [
        [
            e["candidate"],
            "" if e["search_gain"] is None else f"{e['search_gain']:+.4f}",
            interval_text(e["race_gain"]) + (f" ({e['search_seeds']} seeds)" if e["race_gain"] else ""),
            interval_text(e["repeat"]),
            interval_text(e["heldout_vs_baseline"]),
            "; ".join(interval_text(e["other_aggregation"][stage]) for stage in ("repeat", "heldout_vs_baseline")),
            interval_text(e["versus_control"]),
            f"**{e['attribution']}**",
        ]
        for e in evidence["entries"]
        if e["role"] == "winner"
    ]
    multiplicity = evidence["multiplicity"]
    floor = evidence.get("noise_floor") or {}
    same = floor.get("same_seed")
    headers = ["candidate", "role", "search score", f"{metric} per seed", "mean ± sd", "paired gain [95% CI]"]
    holm = "p sequential, Holm" if evidence["adaptive"]["enabled"] else "p t, Holm"  # the p the decision took
    return section | {
        "race": race_section(evidence, race_plot),
        "adaptive": adaptive_section(evidence),
        "seeds": ", ".join(str(s) for s in evidence["repeat_seeds"]),
        "seeds_count": len(evidence["repeat_seeds"]),
        "test": evidence["test"],
        "repeats_table": _table([*headers, "p one-sided", "p two-sided", holm], repeats),
        "repeats_plot": repeats_plot,
        "heldout_table": _table(
            ["candidate", "role", f"held-out {metric} per seed", "paired gain [95% CI]", "p one-sided", holm],
            heldout,
        ),
        "n_controls": len(controls),
        "controls_table": _table(
            ["control", "arm", "knobs", "search score"],
            [
                [
                    c["id"],
                    c.get("arm", "random"),
                    ", ".join(f"{k}={v}" for k, v in c["args"].items()),
                    _num(c["search_score"]),
                ]  # fmt: skip
                for c in controls
            ],
        ),
        "attribution_table": _table(
            [
                "winner",
                "search gain (1 run)",
                "search gain, race seeds",
                "repeat gain, search-validation",
                "held-out gain",
                f"{other}: repeat; held-out",
                "held-out gain vs best control",
                "decision",
            ],
            evidence_rows,
        ),
        "attribution_rules": evidence["attribution_rules"],
        "variance_sources": evidence["variance_sources"],
        "why": [f"{e['candidate']}: {_why(e)}" for e in evidence["entries"] if e["role"] == "winner"],
        "confirmation": evidence["confirmation"],
        "aggregation": evidence["aggregation"],
        "multiplicity": (
            f"{multiplicity['correction']} over the {multiplicity['family']} winners, each stage (search-validation "
            f"repeat, held-out, held-out against the best control) at one-sided level {multiplicity['level']}; "
            + (
                "it withdrew: "
                + ", ".join(multiplicity["changed"])
                + " (above zero at 95% alone, not after the correction)"
                if multiplicity["changed"]
                else "it changed no decision"
            )
        ),
        "power": [
            f"on {split}: {p['mde']:.4f} or more (paired sd {p['paired_sd']:.4f}, pooled over {p['arms']} winners)"
            for split, p in evidence["power"].items()
        ],
        "floor": None
        if floor.get("sd") is None
        else {"n": floor["n"], "mean": f"{floor['mean']:.4f}", "sd": f"{floor['sd']:.4f}"},
        "same_seed": None
        if not same
        else {
            "seed": same["seed"],
            "first": f"{same['first']:.6f}",
            "rerun": f"{same['rerun']:.6f}",
            "score_difference": f"{same['score_difference']:.2e}",
            "max_weight_difference": f"{same['max_weight_difference']:.2e}",
            "identical": same["max_weight_difference"] == 0,
        },
    }


def race_section(evidence: dict, race_plot: str) -> dict[str, Any]:
    """How selection chose: the race's table, its rule and error rate, and its cost beside the repeats'."""
    race, cost = evidence["race"], evidence["cost"]
    settings = race["settings"]
    rows = []
    for row in racing.table(race, evidence["orientation"]):
        dropped = row["dropped"]
        if dropped and "p" in dropped:
            outcome = f"dropped at step {dropped['step']} (p {dropped['p']:.3f} vs {dropped['leader']})"
        else:
            outcome = "dropped: a race run failed" if dropped else ""
        if row["candidate"] in race["winners"]:  # fewer than top_k survived: the best dropped ones fill up
            outcome = f"**winner**{', ' + outcome if outcome else ''}"
        gain = "" if row["gain"] is None else f"{row['gain']:+.4f}"
        rows.append([row["rank"], row["candidate"], row["seeds"], _num(row["mean"]), gain, outcome])
    raced = race["entered"] > settings["top_k"]
    return {
        "raced": raced,
        "plot": race_plot,
        "rule": (
            f"the top {settings['contenders']} by their one search run entered; each step ran a batch of "
            f"{settings['batch']} search seeds (of {settings['seeds']}, never a repeat seed) on every contender "
            f"still in the race and on the baseline, and dropped a contender whose one-sided paired t test against the "
            f"leader gave p < {settings['alpha']:g}; the race ends when {settings['top_k']} or fewer are left or the "
            "seeds run out, and winners are taken by their mean over every search seed they ran"
        ),
        "error": (
            f"the leader is the best mean after the fact, so an equally good contender is dropped more often than "
            f"{settings['alpha']:g} (four equal contenders, normal noise: about {2 * settings['alpha']:g} each at the "
            "first step); dropping an equal loses nothing, and the loss that matters, the truly best candidate "
            "dropped, is measured on real runs in docs/statistics.md (1-2% for a +0.05 gain on the bundled task)"
        ),
        "table": _table(
            ["rank", "candidate", "search seeds", "mean", "gain vs baseline (same seeds)", "outcome"], rows
        ),
        "cost": (
            f"screening {cost['screening']} runs, race {cost['race']} runs in {cost['race_steps']} steps, repeats "
            f"{cost['repeats']} runs (the winners' share {cost['winner_repeats']}: the fixed protocol's "
            f"{len(evidence['repeat_seeds'])}-seed repeat of its winners), added seeds {cost['added_seeds']} runs, "
            f"controls {cost['controls']} random and {cost.get('tpe_controls', 0)} TPE search runs"
            + (
                f". The race cost {cost['race'] / cost['winner_repeats']:.2f}× the winners' fixed repeats"
                if cost["race"] and cost["winner_repeats"]
                else ""
            )
        ),
    }


def control_arms_section(task: Task, rows: list[dict], evidence: dict | None, plot_name: str) -> dict[str, Any] | None:
    """The agent against each scalar-control arm at equal cost: every arm's best search score overall and after as
    many runs as the smallest arm spent, so a larger budget never decides the comparison."""
    controls = (evidence or {}).get("controls") or []
    if not controls:
        return None
    runs = arm_runs(rows, controls)
    equal = equal_cost(runs)
    base = evidence.get("baseline_search_score") if evidence else None

    def gain(score: float | None) -> str:
        return "" if score is None or base is None else f"{task.gain(score, base):+.4f}"

    table = []
    for arm, scores in runs.items():
        curve = best_so_far(task, scores)
        scored = [s for s in scores if s is not None]
        best, at_equal = (curve[-1] if curve else None), (curve[equal - 1] if equal else None)
        median = statistics.median(scored) if scored else None
        table.append([ARM_NAMES.get(arm, arm), len(scores), len(scored), _num(best), gain(best), _num(at_equal),
                      gain(at_equal), _num(median)])  # fmt: skip
    tpe = evidence.get("tpe") if evidence else None
    return {
        "plot": plot_name,
        "equal": equal,
        "tpe": (
            f"The TPE arm (Optuna's tree-structured Parzen estimator, constant liar) asked for {tpe['n']} controls in "
            f"batches of {tpe['batch']}, each batch after the scores of the one before; its first {tpe['startup']} "
            "were drawn at random"
            if tpe
            else None
        ),
        "table": _table(
            ["arm", "runs", "scored", "best", "best gain", f"best of first {equal}", "gain", "median"], table
        ),
    }


def adaptive_section(evidence: dict) -> dict[str, Any] | None:
    """Which winners got added seeds, how many each decision took, and the sequential rule that keeps looking again
    from raising the error rate."""
    adaptive = evidence["adaptive"]
    if not adaptive["enabled"]:
        return None
    settings, looks = adaptive["settings"], adaptive["looks"]
    rows = []
    for e in evidence["entries"]:
        history = adaptive["history"].get(e["candidate"])
        if e["role"] != "winner" or not history:
            continue
        held = e["heldout_vs_baseline"] or {}
        path = "; ".join(
            f"{h['seeds']} seeds: {h['status']}"
            + ("" if h["p_sequential"] is None else f" (p {h['p_sequential']:.3f}, worth ≥ {h['min_effect']:+.4f})")
            for h in history
        )
        rows.append([e["candidate"], history[-1]["seeds"], interval_text(e["heldout_vs_baseline"]),
                     _num(held.get("p_sequential"), 3), _num(held.get("p_holm"), 3), path])  # fmt: skip
    worth = (
        f"at least {settings['min_effect']:g}"
        if settings["min_effect"] is not None
        else "at least the gain the full seed budget finds with 80% power (from its own paired sd)"
    )
    return {
        "rule": (
            f"a winner whose held-out gain was not separated from zero but whose mean was {worth} got the next "
            f"{settings['batch']} seeds of {settings['seeds']} (the baseline ran them too), up to {looks[-1]} seeds; "
            f"every test, the first look's included, is group-sequential over the looks at {looks} seeds: the "
            "smallest one-sided t p over the looks taken, each divided by its look's weight, read against its null "
            "distribution over the whole plan "
            f"(the fixed repeats separate at nominal p < {adaptive['nominal']:.4f}, each added batch at p < "
            f"{adaptive['nominal'] * settings['later_weight']:.4f}), so adding seeds and testing again does not raise "
            "the 2.5% error rate; Holm then applies to these p"
        ),
        "table": _table(
            ["winner", "seeds", "held-out gain [95% CI, all seeds]", "p sequential", "p Holm", "looks"], rows
        ),
        "cost": f"{adaptive['simulations']} runs on {len(adaptive['added_seeds'])} added seeds",
    }


def _why(entry: dict) -> str:
    """Which confirmations the decision rests on, in words."""
    parts = []
    for stage, name in (
        ("heldout_vs_baseline", "held-out"),
        ("repeat", "search-validation repeat"),
        ("versus_control", "against the best control"),
    ):
        test = entry[stage]
        if test is not None:
            verdict = "confirmed" if test["confirmed"] else "not confirmed"
            parts.append(f"{name} {verdict} (p {test.get('p_holm', test['p_t_one_sided']):.3f})")
    return "; ".join(parts) or "no paired test"


def failures_section(rows: list[dict]) -> str:
    """The crashed, timed-out and invalid rows with their reasons ('' when there are none)."""
    failures = [r for r in rows if r["status"].failed]
    if not failures:
        return ""
    return _table(
        ["candidate", "status", "reason"], [[r["candidate"], r["status"], r["failure_reason"]] for r in failures]
    )


def _event_outcome(members: list[dict], complete: bool) -> str:
    """helped (a batch member was kept), failed (none scored), no gain, or incomplete."""
    if any(m["status"] is Status.KEEP for m in members):
        return "helped"
    if not complete:
        return "incomplete"
    return "no gain" if any(m["status"] is Status.DISCARD for m in members) else "failed"


def literature_section(rows: list[dict], state: dict, records: Records, metric: str) -> list[dict[str, Any]]:
    """Each literature event: trigger, kept sources, ranked proposals, its batch and the outcome."""
    events = [r for r in rows if r["kind"] == "literature"]
    batch = (state.get("guard") or {}).get("literature_batch", 3)
    batches = {b["event"]: b for b in literature_batches(rows, batch)}
    by_id = {r["candidate"]: r for r in rows}
    out = []
    for r in events:
        if r["status"] is not Status.LITERATURE:
            out.append({"id": r["candidate"], "title": r["description"], "rejected": r["failure_reason"]})
            continue
        event = read_yaml(records.campaign / r["artifacts"])
        found = batches[r["candidate"]]
        members = [by_id[cid] for cid in found["members"]]
        linked = [x for x in rows if x["literature_event"] == r["candidate"] and x["kind"] != "literature"]
        out.append(
            {
                "id": r["candidate"],
                "title": r["description"],
                "rejected": "",
                "trigger": event["trigger"],
                "sources": ", ".join(f"{s['ref']} ({s['title']})" for s in event["sources"] if s["decision"] == "keep"),
                "proposals": _table(
                    ["proposal", "total", "mechanism", "falsifier"],
                    [
                        [p["id"], proposal_total(p["scores"]), p["mechanism"], p["falsifier"]]
                        for p in ranked_proposals(event)
                    ],
                ),
                "linked": _table(
                    ["linked candidate", "status", metric, "kind"],
                    [[x["candidate"], x["status"], format_row(x)["score"], x["kind"]] for x in linked],
                )
                if linked
                else "",
                "outcome": _event_outcome(members, found["completed_at"] is not None),
                "members": len(members),
                "batch": batch,
            }
        )
    return out


def null_section(task: Task, rows: list[dict], state: dict) -> str | None:
    """Scored ideas that did not beat the baseline, worth knowing so they are not proposed again; None
    without a baseline, '' when every discarded candidate beat it."""
    baseline = state.get("baseline")
    if baseline is None:
        return None
    null = [r for r in rows if r["status"] is Status.DISCARD and not task.better(r["score"], baseline["score"])]
    if not null:
        return ""
    return _table(
        ["candidate", task.metric["name"], "vs baseline", "family", "description"],
        [
            [
                r["candidate"],
                format_row(r)["score"],
                _vs_baseline(task, r["score"], baseline),
                r["family"],
                r["description"],
            ]
            for r in null
        ],
    )


def kept_chain_section(rows: list[dict], records: Records) -> list[dict[str, str]]:
    """The baseline and every kept candidate: hypothesis, knobs and effective diff against the task's sources."""
    chain = []
    for r in rows:
        if not r["status"].incumbent:
            continue
        validation = read_json(records.validation(r["candidate"]))
        diff_path = records.effective_diff(r["candidate"])
        diff = diff_path.read_text(encoding="utf-8") if diff_path.is_file() else ""
        chain.append(
            {
                "candidate": r["candidate"],
                "status": r["status"].value,
                "score": format_row(r)["score"],
                "description": r["description"],
                "hypothesis": (validation.get("meta") or {}).get("hypothesis", ""),
                "knobs": ", ".join(f"`{k}={v}`" for k, v in (validation.get("args") or {}).items()),
                "diff": diff.rstrip() or "(no source change)",
            }
        )
    return chain


def ledger_section(rows: list[dict], evidence: dict | None) -> str:
    """The ledger's main columns as the TSV holds them (tree hashes shortened, a space after each changed file's
    comma), with the search seeds each scored candidate ran once the race is over (its screening run and any race
    seeds)."""
    seeds = {cid: len(runs) for cid, runs in (evidence or {}).get("race", {}).get("search_runs", {}).items()}
    headers = [*LEDGER_TABLE[:5], "seeds", *LEDGER_TABLE[5:]]
    table = []
    for row in rows:
        cells = format_row(row)
        ran = seeds.get(row["candidate"], 1 if row["status"].scored else "")
        cells |= {"tree_sha256": cells["tree_sha256"][:12], "changed_files": cells["changed_files"].replace(",", ", ")}
        values = [cells[c] for c in LEDGER_TABLE]
        table.append([*values[:5], ran, *values[5:]])
    return _table(headers, table, wide=True)


def build_markdown(
    task: Task,
    rows: list[dict],
    state: dict,
    results: Path,
    plot_name: str,
    command: str,
    evidence: dict | None = None,
    repeats_plot: str = "repeats.png",
    race_plot: str = "race.png",
    control_arms_plot: str = "control_arms.png",
    lineage_plot: str | None = None,
    shrinkage_plot: str | None = None,
) -> str:
    """The report's Markdown: each section's figures rendered into the template's prose."""
    records = Records(Path(results))
    duplicates = [r for r in rows if r["duplicate_of"]]
    environment_table = _table(["component", "version"], [[k, v] for k, v in environment().items()])
    template = jinja2.Environment(
        loader=jinja2.PackageLoader("flcampaign.reporting"),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    ).get_template(TEMPLATE)
    return template.render(
        objective=objective_section(task, state),
        best=best_section(task, state),
        decisions=decisions_section(task, rows, state),
        runtime=runtime_section(rows),
        compute=compute_section(rows, task),
        cost=cost_section(records),
        progress_plot=plot_name,
        lineage_plot=lineage_plot,
        shrinkage_plot=shrinkage_plot if evidence and evidence["entries"] else None,
        winners=winners_section(evidence, repeats_plot, race_plot),
        control_arms=control_arms_section(task, rows, evidence, control_arms_plot),
        failures=failures_section(rows),
        literature=literature_section(rows, state, records, task.metric["name"]),
        null=null_section(task, rows, state),
        duplicates=", ".join(f"{r['candidate']} = {r['duplicate_of']}" for r in duplicates),
        kept_chain=kept_chain_section(rows, records),
        ledger=ledger_section(rows, evidence),
        environment=environment_table,
        command=command,
    )


def render_pdf(markdown_path: Path, pdf_path: Path) -> None:
    """Markdown -> standalone HTML (pandoc, without its document CSS: ``PDF_CSS`` lays the pages out) -> PDF
    (WeasyPrint); images resolve next to the Markdown."""
    import pypandoc
    import weasyprint

    html = pypandoc.convert_file(
        str(markdown_path),
        "html5",
        extra_args=["--standalone", "--metadata", "pagetitle=Campaign report", "--metadata", "document-css=false"],
    )
    document = weasyprint.HTML(string=html, base_url=str(Path(markdown_path).parent.resolve()))
    tmp = Path(pdf_path).with_name(f".{Path(pdf_path).name}.tmp")
    document.write_pdf(tmp, stylesheets=[weasyprint.CSS(string=PDF_CSS)])
    tmp.replace(pdf_path)


def write_report(
    task: Task,
    rows: list[dict],
    state: dict,
    results: Path,
    markdown: Path,
    pdf: Path,
    plot: Path,
    command: str,
    evidence: dict | None = None,
    repeats_plot: Path | None = None,
    race_plot: Path | None = None,
    control_arms_plot: Path | None = None,
    lineage_plot: Path | None = None,
    shrinkage_plot: Path | None = None,
) -> None:
    plot_names = (
        Path(plot).name,
        Path(repeats_plot or "repeats.png").name,
        Path(race_plot or "race.png").name,
        Path(control_arms_plot or "control_arms.png").name,
    )
    lineage_name = None if lineage_plot is None else Path(lineage_plot).name
    shrinkage_name = None if shrinkage_plot is None else Path(shrinkage_plot).name
    text = build_markdown(
        task, rows, state, results, plot_names[0], command, evidence, *plot_names[1:],
        lineage_plot=lineage_name, shrinkage_plot=shrinkage_name,
    )  # fmt: skip
    atomic_write_text(markdown, text)
    render_pdf(markdown, pdf)
