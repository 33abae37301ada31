"""The campaign's plots (progress, candidate tree, winners, race, controls), following the reference Auto-FL
conventions."""

import itertools
import textwrap
from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from flcampaign.evidence.arm_comparison import ARM_NAMES, arm_runs, best_so_far, equal_cost  # noqa: E402
from flcampaign.records import Status  # noqa: E402
from flcampaign.reporting.lineage import Node, lineage  # noqa: E402
from flcampaign.task import Task  # noqa: E402

STYLE: dict[str, dict[str, Any]] = {
    "discard": {"color": "#cccccc", "s": 18, "alpha": 0.55, "zorder": 2},
    "keep": {"color": "#2ecc71", "s": 72, "alpha": 0.95, "edgecolors": "black", "linewidths": 0.5, "zorder": 4},
    "baseline": {"color": "#2ecc71", "s": 72, "alpha": 0.95, "edgecolors": "black", "linewidths": 0.5, "zorder": 4},
}
LITERATURE = "#8e44ad"
INCUMBENT_GREEN = "#27ae60"  # the running best and the incumbent chain
RACE_COLORS = {"winner": "#2c3e50", "dropped": "#c0392b", "raced": "#2980b9", "not raced": "#95a5a6"}
RACE_LABELS = {
    "winner": "winner",
    "dropped": "dropped by the race",
    "raced": "raced to the end, not among the winners",
    "not raced": "not raced (one search run)",
}
FAILED: dict[str, dict[str, Any]] = {
    "crash": {"marker": "x", "color": "#c0392b"},
    "timeout": {"marker": "v", "color": "#e67e22"},
    "invalid": {"marker": "s", "color": "#7f8c8d"},
}


def save(fig: plt.Figure, out: Path) -> None:
    """Lay out, write next to the target and rename, so a reader never sees half a PNG."""
    fig.tight_layout()
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(out)


def campaign_axes(ax: plt.Axes, task: Task, n_rows: int) -> None:
    """Axes of a plot over the campaign's rows: candidates in campaign order against the search score."""
    ax.set_xlabel("candidate (campaign order)")
    better = "higher" if task.orientation > 0 else "lower"
    ax.set_ylabel(f"{task.metric['name']} on search-validation ({better} is better)")
    ax.set_xlim(0.5, max(n_rows, 1) + 0.5)
    ax.grid(alpha=0.3)
    cast(MaxNLocator, ax.xaxis.get_major_locator()).set_params(integer=True)  # a linear axis's AutoLocator
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0.0)


def progress_plot(rows: list[dict], task: Task, out: Path) -> None:
    """Scored rows as points, running best as a step line, failures as red ticks at the bottom."""
    fig, ax = plt.subplots(figsize=(16, 8), dpi=150)
    scored = [r for r in rows if r["status"].scored]
    for status, style in STYLE.items():
        pts = [(r["order"], r["score"]) for r in scored if r["status"] == status]
        if pts:
            marker = "*" if status == "baseline" else "o"
            ax.scatter(*zip(*pts, strict=True), marker=marker, label=f"{status} ({len(pts)})", **style)
    linked = [(r["order"], r["score"]) for r in scored if r.get("literature_event")]
    if linked:
        xs, ys = zip(*linked, strict=True)
        ax.scatter(
            xs,
            ys,
            s=110,
            facecolors="none",
            edgecolors=LITERATURE,
            linewidths=1.6,
            zorder=5,
            label=f"literature batch ({len(linked)})",
        )
    best = [(r["order"], r["best_so_far"]) for r in rows if r["best_so_far"] is not None]
    if best:
        xs, ys = zip(*best, strict=True)
        ax.step(xs, ys, where="post", color=INCUMBENT_GREEN, lw=2.2, alpha=0.75, label="running best", zorder=1)
    baseline = next((r["score"] for r in rows if r["status"] is Status.BASELINE), None)
    if baseline is not None:
        ax.axhline(baseline, color="#7f8c8d", ls="--", alpha=0.5, label="baseline")
    values = [r["score"] for r in scored]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = max(high - low, 1e-3)
    bottom, top = low - 0.1 * span, high + max(0.015, 0.35 * span)
    ax.set_ylim(bottom, top)
    failure_y = bottom + 0.04 * (top - bottom)
    for status, style in FAILED.items():
        orders = [r["order"] for r in rows if r["status"] == status]
        if orders:
            ax.scatter(orders, [failure_y] * len(orders), s=40, zorder=3, label=f"{status} ({len(orders)})", **style)
    for r in rows:
        if r["status"] in FAILED:
            ax.annotate(
                r["candidate"],
                (r["order"], failure_y),
                textcoords="offset points",
                xytext=(0, 8),
                rotation=90,
                fontsize=7,
                color=FAILED[r["status"]]["color"],
                ha="center",
                va="bottom",
            )
        if r["status"] is Status.LITERATURE:
            ax.axvline(r["order"], color=LITERATURE, ls=":", lw=1.5, zorder=1)
            ax.annotate(
                f"{r['candidate']}: {r['description'][:60]}",
                (r["order"], top),
                textcoords="offset points",
                xytext=(3, -4),
                rotation=90,
                fontsize=7,
                color=LITERATURE,
                ha="left",
                va="top",
            )
    for r in scored:
        if r["status"].incumbent:
            ax.annotate(
                r["candidate"],
                (r["order"], r["score"]),
                textcoords="offset points",
                xytext=(6, 6),
                fontsize=8,
                color="#1a7a3a",
            )
    n_failed = sum(r["status"] in FAILED for r in rows)
    best_value = rows[-1]["best_so_far"] if rows else None
    if baseline is not None and best_value is not None:
        gain = task.gain(best_value, baseline)
        summary = f"Baseline {baseline:.4f}\nBest {best_value:.4f}\nGain {gain:+.4f} (positive = better)"
        ax.text(
            0.01,
            0.98,
            summary,
            transform=ax.transAxes,
            va="top",
            fontsize=10,
            family="monospace",
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": "#bbbbbb"},
        )
    kept = sum(r["status"] is Status.KEEP for r in rows)
    reviews = sum(r["status"] is Status.LITERATURE for r in rows)
    ax.set_title(
        f"Campaign progress: {len(rows)} rows, {len(scored)} scored, {kept} kept, {n_failed} failed, "
        f"{reviews} literature"
    )
    campaign_axes(ax, task, len(rows))
    save(fig, Path(out))


LABEL_BOX = {"boxstyle": "square,pad=0.1", "facecolor": "white", "alpha": 0.7, "edgecolor": "none"}
EVENT_RINGS = ("o", "s", "D", "h", "p", "^")  # one ring shape per literature event, in event order


def xy(nodes: list[Node]) -> tuple[list[float], list[float]]:
    """The nodes' positions as the x and y lists matplotlib draws."""
    return [node.x for node in nodes], [node.y for node in nodes]


def tree_marker(status: Status, area: float) -> dict[str, Any]:
    """A tree node's marker: the progress plot's colour and shape for the status, sized to be seen in a tree
    (``area`` shrinks it where the rows are close)."""
    if status in FAILED:
        return FAILED[status] | {"s": 45 * area, "zorder": 4}
    if status is Status.BASELINE:
        return STYLE[status] | {"marker": "*", "s": 260 * area}
    return STYLE[status] | {"s": (80 if status is Status.KEEP else 45) * area, "alpha": 0.95, "edgecolors": "#7f8c8d"}


def label_place(node: Node, parents: set[str]) -> dict[str, Any]:
    """Where a node's name goes: right of a leaf. A parent's edges leave to its right, so its name sits above it
    (the root) or to its left, above or below by generation so the names along a chain do not meet."""
    if node.candidate not in parents:
        return {"xytext": (9, 0), "ha": "left", "va": "center"}
    if node.parent is None:
        return {"xytext": (0, 9), "ha": "center", "va": "bottom"}
    above = node.depth % 2 == 0
    return {"xytext": (-5, 7 if above else -7), "ha": "right", "va": "bottom" if above else "top"}


def lineage_plot(rows: list[dict], out: Path) -> None:
    """The candidate tree (``lineage.lineage``): generations left to right, each candidate beside its parent and
    coloured by status, so which lines of ideas were pursued and where they failed reads at a glance; the incumbent
    chain is the thick green path, literature-event members are ringed, and a parent the ledger does not hold is
    a dotted edge to the baseline."""
    tree = lineage(rows)
    fig, ax = plt.subplots(figsize=(16, 8), dpi=150)
    at = {node.candidate: node for node in tree.nodes}
    chain = set(tree.chain_edges)
    parents = {parent for parent, _ in tree.edges}
    for parent, child in tree.edges:  # elbows: siblings share the vertical stroke half a generation out
        start, end = at[parent], at[child]
        path = ([start.x, start.x + 0.5, start.x + 0.5, end.x], [start.y, start.y, end.y, end.y])
        ax.plot(*path, color="#95a5a6", lw=1.0, ls=":" if end.adopted else "-", zorder=1)
        if (parent, child) in chain:
            ax.plot(*path, color=INCUMBENT_GREEN, lw=4.0, alpha=0.8, solid_capstyle="round", zorder=2)
    last_row = max((node.y for node in tree.nodes), default=0.0)
    area = min(1.0, 24 / (last_row + 1.6)) ** 1.5  # markers shrink once the rows are closer than a ring is wide
    incumbents = [node for node in tree.nodes if node.incumbent]
    if incumbents:
        label = f"incumbent chain: baseline and kept ({len(incumbents)})"
        ax.scatter(*xy(incumbents), s=520 * area, color=INCUMBENT_GREEN, alpha=0.25, zorder=2, label=label)
    for status in Status:
        members = [node for node in tree.nodes if node.status is status]
        if members:
            ax.scatter(*xy(members), label=f"{status} ({len(members)})", **tree_marker(status, area))
    for ring, event in zip(itertools.cycle(EVENT_RINGS), tree.events):
        members = [node for node in tree.nodes if node.literature_event == event["id"]]
        label = f"{event['id']} ({len(members)}): {textwrap.shorten(event['description'], 55, placeholder='…')}"
        ax.scatter(*xy(members), marker=ring, s=300 * area, facecolors="none", edgecolors=LITERATURE, linewidths=1.6,
                   zorder=5, label=label)  # fmt: skip
    if any(node.adopted for node in tree.nodes):
        ax.plot([], [], color="#95a5a6", ls=":", label="parent not in the ledger: hung from the baseline")
    named = tree.named
    for node in tree.nodes:
        if node.candidate not in named:
            continue
        label = node.candidate + ("" if node.score is None else f"  {node.score:.4f}")
        color = "#1a7a3a" if node.incumbent else FAILED[node.status]["color"] if node.status.failed else "#2c3e50"
        ax.annotate(label, (node.x, node.y), textcoords="offset points", fontsize=7, color=color, zorder=6,
                    weight="bold" if node.incumbent else "normal", bbox=LABEL_BOX,
                    **label_place(node, parents))  # fmt: skip
    generations = max((node.depth for node in tree.nodes), default=0)
    ax.set_xlim(-0.4, generations + 1.0)
    ax.set_ylim(last_row + 0.8, -0.8)  # campaign order downwards
    ax.set_xticks(range(generations + 1))
    ax.set_yticks([])
    ax.set_xlabel("generation (edits away from the baseline)")
    ax.grid(axis="x", alpha=0.3)
    kept = sum(node.status is Status.KEEP for node in tree.nodes)
    failed = sum(node.status.failed for node in tree.nodes)
    ax.set_title(
        f"Candidate tree: {len(tree.nodes)} candidates over {generations} generations; "
        f"kept {kept}, failed {failed}, literature events {len(tree.events)}"
    )
    if tree.nodes:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0.0, labelspacing=1.1,
                  markerscale=area**-0.5)  # fmt: skip
    else:
        ax.text(0.5, 0.5, "no candidates yet", transform=ax.transAxes, ha="center", color="#7f8c8d")
    save(fig, Path(out))


def repeats_plot(evidence: dict, out: Path) -> None:
    """Per-seed paired differences to the baseline with mean and 95% t interval, repeat and held-out; the seeds
    added to a promising winner (``repeats.adaptive``) are hollow."""
    entries = [e for e in evidence["entries"] if e["diff_per_seed"] or e["heldout_diff_per_seed"]]
    fixed = {int(seed) for seed in evidence["repeat_seeds"]}
    fig, axes = plt.subplots(1, 2, figsize=(14, max(3.0, 1.1 * len(entries) + 1.5)), dpi=150, sharey=True)
    panels = (
        ("diff_per_seed", "repeat", "search-validation (repeat seeds)"),
        ("heldout_diff_per_seed", "heldout_vs_baseline", "held-out"),
    )
    for ax, (per_seed_key, summary_key, title) in zip(axes, panels, strict=True):
        for row, entry in enumerate(entries):
            color = "#2c3e50" if entry["role"] == "winner" else "#e67e22"
            for added in (False, True):
                diffs = [d for seed, d in entry[per_seed_key].items() if (int(seed) not in fixed) == added]
                style: dict[str, object] = (
                    {"facecolors": "none", "edgecolors": color} if added else {"color": color, "alpha": 0.5}
                )
                ax.scatter(diffs, [row] * len(diffs), s=30, zorder=3, **style)
            summary = entry[summary_key]
            if summary:
                ax.errorbar(
                    summary["mean"],
                    row,
                    xerr=[[summary["mean"] - summary["ci_low"]], [summary["ci_high"] - summary["mean"]]],
                    fmt="D",
                    color=color,
                    capsize=5,
                    ms=7,
                    zorder=4,
                )
        ax.axvline(0.0, color="#7f8c8d", ls="--")
        ax.set_title(f"{evidence['metric']['name']} difference to the baseline, {title}")
        ax.set_xlabel("paired difference per seed (positive = better)")
        ax.grid(alpha=0.3)
    labels = [
        f"{e['candidate']}\n({e['role']}" + (f", {len(e['heldout'])} seeds)" if len(e["heldout"]) > len(fixed) else ")")
        for e in entries
    ]
    axes[0].set_yticks(range(len(entries)), labels)
    axes[0].set_ylim(-0.8, max(len(entries), 1) - 0.2)
    fig.supxlabel("dot: a repeat seed; hollow: a seed added to a promising winner; diamond: mean with 95% t interval",
                  fontsize=10)  # fmt: skip
    save(fig, Path(out))


SHRINKAGE_STAGES = (  # winners.json key, what it estimates, colour: from the selecting run to the confirmation
    ("search_gain", "the search run that selected it", "#95a5a6"),
    ("race_gain", "race on the search seeds", "#2980b9"),
    ("repeat", "repeat, search-validation", "#8e44ad"),
    ("heldout_vs_baseline", "repeat, held-out", "#27ae60"),
)


def stage_summary(value: Any) -> dict[str, Any]:
    """A stage of a winner's evidence as a summary ({} when missing): the search gain is one number, the others
    intervals."""
    if isinstance(value, int | float):
        return {"mean": float(value)}
    return value if isinstance(value, dict) else {}


def shrinkage_plot(evidence: dict, task: Task, out: Path) -> None:
    """Each winner's gain over the baseline as it was estimated stage after stage (winners.json): the one search
    run that selected it, the race's search seeds, the repeat seeds on search-validation and on the held-out split,
    each mean with its 95% interval, so how much of the selecting gain was the luck of one run reads at a glance."""
    entries = evidence["entries"]
    fig, ax = plt.subplots(figsize=(12, 8), dpi=150)
    ticks: list[tuple[int, str]] = []
    headers: list[int] = []
    row = 0
    for entry in entries:
        if row:
            ax.axhline(row - 1, color="#bbbbbb", lw=0.8)
        headers.append(row)
        attribution = f":\n{entry['attribution']}" if entry.get("attribution") else ""
        ticks.append((row, f"{entry['candidate']} ({entry['role']}){attribution}"))
        for key, label, color in SHRINKAGE_STAGES:
            row += 1
            summary = stage_summary(entry.get(key))
            ticks.append((row, label + (f", {summary['n']} seeds" if summary.get("n") else "")))
            if summary.get("mean") is None:
                ax.annotate("n/a", (0.0, row), textcoords="offset points", xytext=(6, 0), va="center", fontsize=8,
                            color="#7f8c8d")  # fmt: skip
                continue
            low, high = summary.get("ci_low"), summary.get("ci_high")
            interval = None if low is None or high is None else [[summary["mean"] - low], [high - summary["mean"]]]
            ax.errorbar(summary["mean"], row, xerr=interval, fmt="o", color=color, capsize=4, ms=7, zorder=3)
            note = f"{summary['mean']:+.4f}" + (", confirmed" if summary.get("confirmed") else "")
            ax.annotate(note, (summary["mean"], row), textcoords="offset points", xytext=(0, 6), ha="center",
                        fontsize=7, color=color)  # fmt: skip
        row += 2
    for _, label, color in SHRINKAGE_STAGES:
        ax.errorbar([], [], xerr=[], fmt="o", color=color, capsize=4, label=label)
    ax.axvline(0.0, color="#7f8c8d", ls="--")
    ax.set_yticks([y for y, _ in ticks], [label for _, label in ticks], fontsize=8)
    for y, tick in zip([y for y, _ in ticks], ax.get_yticklabels(), strict=True):
        tick.set_fontweight("bold" if y in headers else "normal")
    ax.tick_params(axis="y", length=0)
    ax.margins(x=0.08)
    ax.set_ylim(max(row - 2, 1) + 0.6, -0.8)
    ax.set_xlabel(f"gain over the baseline ({task.metric['name']}, positive = better)")
    ax.set_title("From selection to confirmation: each winner's gain over the baseline with its 95% t interval")
    ax.grid(axis="x", alpha=0.3)
    if entries:
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0.0)
    else:
        ax.text(0.5, 0.5, "no winners", transform=ax.transAxes, ha="center", color="#7f8c8d")
    save(fig, Path(out))


def race_plot(rows: list[dict], race: dict, task: Task, out: Path) -> None:
    """Every compared candidate's search scores in campaign order: the screening run, and for contenders each race
    seed with the mean over all their seeds (a diamond), labelled with the number of seeds; winners and the
    candidates the race dropped are marked. The baseline's mean over the same seeds is the dashed line."""
    order = {r["candidate"]: r["order"] for r in rows}
    winners = set(race["winners"])
    fig, ax = plt.subplots(figsize=(16, 8), dpi=150)
    for entry in race["ranking"]:
        cid = entry["candidate"]
        runs = list(race["search_runs"][cid].values())
        x = order[cid]
        raced = entry["seeds"] > 1
        color = RACE_COLORS[
            "winner" if cid in winners else "dropped" if entry["dropped"] else "raced" if raced else "not raced"
        ]
        ax.scatter([x] * len(runs), runs, color=color, alpha=0.45 if raced else 0.8, s=22, zorder=3)
        if raced:  # no interval of its own: the race decides on differences paired by seed, which are tighter
            ax.scatter([x], [entry["mean"]], marker="D", color=color, s=60, zorder=4)
            drop = entry["dropped"]
            note = f"{entry['seeds']} seeds" + (f"\ndropped step {drop['step']}" if drop else "")
            ax.annotate(note, (x, max(runs)), textcoords="offset points", xytext=(0, 6), fontsize=8,
                        ha="center", color=color)  # fmt: skip
        if raced or cid in winners:
            weight = "bold" if cid in winners else "normal"
            below = -10 - 13 * (x % 2)  # neighbours' names on alternate lines
            ax.annotate(cid, (x, min(runs)), textcoords="offset points", xytext=(0, below), fontsize=9, ha="center",
                        va="top", color=color, weight=weight)  # fmt: skip
    reference = list(race["reference_runs"].values())
    if reference:
        mean = sum(reference) / len(reference)
        ax.axhline(mean, color="#7f8c8d", ls="--", alpha=0.6, label=f"baseline, mean of {len(reference)} seeds")
    for kind, label in RACE_LABELS.items():
        ax.scatter([], [], color=RACE_COLORS[kind], s=22, label=label)
    ax.scatter([], [], marker="D", color="#2c3e50", s=60, label="mean over its search seeds")
    settings = race["settings"]
    ax.set_title(
        f"Racing selection: top {settings['contenders']} by one search run raced on seeds {settings['seeds']} "
        f"(batches of {settings['batch']}, drop at p < {settings['alpha']:g}); {race['simulations']} race runs"
    )
    campaign_axes(ax, task, len(rows))
    save(fig, Path(out))


ARM_COLORS = {"agent": "#2c3e50", "random": "#e67e22", "tpe": "#16a085"}


def control_arms_plot(rows: list[dict], evidence: dict | None, task: Task, out: Path) -> None:
    """Agent against scalar tuning at equal cost: each arm's search scores (dots) and best so far (step line)
    against the simulations it spent, and beside it each arm's spread of search scores (a box over its runs, dots
    left to right in the order it ran them), since the best so far hides how often an arm proposes a poor run;
    the baseline's search score is the dashed line."""
    controls = (evidence or {}).get("controls") or []
    runs = arm_runs(rows, controls)
    fig, (ax, spread) = plt.subplots(1, 2, figsize=(12, 6), dpi=150, sharey=True, width_ratios=(3, 1))
    for arm, scores in runs.items():
        color = ARM_COLORS.get(arm, "#7f8c8d")
        x = range(1, len(scores) + 1)
        points = [(i, s) for i, s in zip(x, scores, strict=True) if s is not None]
        ax.scatter([i for i, _ in points], [s for _, s in points], color=color, alpha=0.35, s=18, zorder=2)
        curve = best_so_far(task, scores)
        ax.step(list(x), [float("nan") if c is None else c for c in curve], where="post", color=color, lw=2,
                label=f"{ARM_NAMES.get(arm, arm)}: {len(scores)} runs, best so far", zorder=3)  # fmt: skip
    labels = []
    for position, (arm, scores) in enumerate(runs.items()):
        color = ARM_COLORS.get(arm, "#7f8c8d")
        scored = [s for s in scores if s is not None]
        failed = len(scores) - len(scored)
        labels.append(f"{arm}\n{len(scores)} runs" + (f"\n{failed} failed" if failed else ""))
        if scored:
            lines = {"color": color}
            spread.boxplot(scored, positions=[position], widths=0.6, showfliers=False, medianprops=lines,
                           boxprops=lines, whiskerprops=lines, capprops=lines)  # fmt: skip
            offsets = [0.0] if len(scored) == 1 else [-0.2 + 0.4 * i / (len(scored) - 1) for i in range(len(scored))]
            spread.scatter([position + o for o in offsets], scored, color=color, alpha=0.6, s=16, zorder=3)
    spread.set_xticks(range(len(runs)), labels, fontsize=8)
    spread.set_xlim(-0.6, len(runs) - 0.4)
    spread.set_title("search scores per arm")
    spread.grid(axis="y", alpha=0.3)
    base = (evidence or {}).get("baseline_search_score")
    if base is not None:
        baseline_line = {"color": "#7f8c8d", "ls": "--", "alpha": 0.7}
        ax.axhline(base, label="baseline (search run)", **baseline_line)
        spread.axhline(base, **baseline_line)
    if controls:
        equal = equal_cost(runs)
        ax.axvline(equal, color="#34495e", ls=":", alpha=0.8, label=f"equal cost: {equal} runs each")
    else:
        ax.text(
            0.5, 0.5, "no scalar controls ran (controls.n = 0)", transform=ax.transAxes, ha="center", color="#7f8c8d"
        )
    better = "higher" if task.orientation > 0 else "lower"
    ax.set_xlabel("simulations spent by the arm (one run each, search seed)")
    ax.set_ylabel(f"{task.metric['name']} on search-validation ({better} is better)")
    ax.set_title("Agent against same-budget scalar tuning: dots are runs, lines the best so far")
    ax.grid(alpha=0.3)
    cast(MaxNLocator, ax.xaxis.get_major_locator()).set_params(integer=True)
    spread.legend(*ax.get_legend_handles_labels(), loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                  fontsize=8)  # fmt: skip
    save(fig, Path(out))
