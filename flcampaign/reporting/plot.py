"""Campaign progress plot, following the reference Auto-FL conventions."""

from pathlib import Path
from typing import Any, cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from flcampaign.evidence.arm_comparison import ARM_NAMES, arm_runs, best_so_far, equal_cost  # noqa: E402
from flcampaign.records import Status  # noqa: E402
from flcampaign.task import Task  # noqa: E402

STYLE: dict[str, dict[str, Any]] = {
    "discard": {"color": "#cccccc", "s": 18, "alpha": 0.55, "zorder": 2},
    "keep": {"color": "#2ecc71", "s": 72, "alpha": 0.95, "edgecolors": "black", "linewidths": 0.5, "zorder": 4},
    "baseline": {"color": "#2ecc71", "s": 72, "alpha": 0.95, "edgecolors": "black", "linewidths": 0.5, "zorder": 4},
}
LITERATURE = "#8e44ad"
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
        ax.step(xs, ys, where="post", color="#27ae60", lw=2.2, alpha=0.75, label="running best", zorder=1)
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
    against the simulations it spent; the baseline's search score is the dashed line."""
    controls = (evidence or {}).get("controls") or []
    runs = arm_runs(rows, controls)
    fig, ax = plt.subplots(figsize=(12, 6), dpi=150)
    for arm, scores in runs.items():
        color = ARM_COLORS.get(arm, "#7f8c8d")
        x = range(1, len(scores) + 1)
        points = [(i, s) for i, s in zip(x, scores, strict=True) if s is not None]
        ax.scatter([i for i, _ in points], [s for _, s in points], color=color, alpha=0.35, s=18, zorder=2)
        curve = best_so_far(task, scores)
        ax.step(list(x), [float("nan") if c is None else c for c in curve], where="post", color=color, lw=2,
                label=f"{ARM_NAMES.get(arm, arm)}: {len(scores)} runs, best so far", zorder=3)  # fmt: skip
    base = (evidence or {}).get("baseline_search_score")
    if base is not None:
        ax.axhline(base, color="#7f8c8d", ls="--", alpha=0.7, label="baseline (search run)")
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
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), borderaxespad=0.0)
    save(fig, Path(out))
