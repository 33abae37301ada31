"""The campaign dashboard: one self-contained HTML page (Plotly inlined, no server, nothing fetched).

It shows what the ledger, the guard's state and the winners' evidence hold, while a campaign runs (``live``: the page
reloads itself) and after it ends. Every text a candidate wrote is hostile input: the page is rendered with
autoescape, hover labels are escaped for Plotly's label markup, and the JSON embedded in ``<script>`` cannot end it.
"""

import html
import importlib.resources
import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import plotly.graph_objects as go
import plotly.offline
from markupsafe import Markup
from plotly.subplots import make_subplots

from flcampaign.evidence.arm_comparison import ARM_NAMES, arm_runs, best_so_far, equal_cost
from flcampaign.evidence.cost import PHASE_NAMES, campaign_cost
from flcampaign.files import atomic_write_text, read_json
from flcampaign.layout import Records
from flcampaign.records import INTEGER_CELLS, NUMBER_CELLS, Status, format_row
from flcampaign.reporting.lineage import Lineage, lineage
from flcampaign.reporting.plot import (
    ARM_COLORS,
    FAILED,
    INCUMBENT_GREEN,
    LITERATURE,
    SHRINKAGE_STAGES,
    STYLE,
    stage_summary,
)
from flcampaign.reporting.report import has_interval, interval_text
from flcampaign.task import Task

RELOAD_SECONDS = 15
LEDGER_KEY_COLUMNS = (
    "order", "candidate", "parent", "status", "score", "best_so_far", "runtime_seconds", "cpu_seconds", "family",
    "description", "failure_reason",
)  # fmt: skip
COST_COLUMNS = ("gpu_seconds", "peak_memory_mb", "device", "slot", "compute_ratio")  # shown when some row has one
PLACE_COLUMNS = ("device", "slot")  # shown when the runs went to more than one (the cost section names the devices)
STATUS_COLORS = (
    {Status(name): style["color"] for name, style in STYLE.items()}
    | {Status(name): style["color"] for name, style in FAILED.items()}
    | {Status.LITERATURE: LITERATURE}
)
PLOTLY_SYMBOLS = {"x": "x", "v": "triangle-down", "s": "square"}  # FAILED's matplotlib markers
SYMBOLS = {Status.BASELINE: "star"} | {Status(name): PLOTLY_SYMBOLS[style["marker"]] for name, style in FAILED.items()}
NEUTRAL = "#7f8c8d"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"


def _number(value: float | None, spec: str = ".4f") -> str:
    return "n/a" if value is None else format(value, spec)


def _wrapped(text: str, width: int = 90) -> str:
    """Escaped for Plotly's label markup and broken into lines (Plotly does not wrap hover labels)."""
    return "<br>".join(html.escape(line) for line in textwrap.wrap(str(text), width)) or "n/a"


def candidate_details(records: Records, cid: str) -> dict[str, Any]:
    """What validation recorded of a candidate: its metadata (candidate.yaml), knob values and effective diff."""
    validation_path, diff_path = records.validation(cid), records.effective_diff(cid)
    validation = read_json(validation_path) if validation_path.is_file() else {}
    return {
        "meta": validation.get("meta") or {},
        "args": validation.get("effective_args") or {},
        "diff": diff_path.read_text(encoding="utf-8", errors="replace") if diff_path.is_file() else "",
    }


def _progress_point(row: dict, details: dict[str, Any]) -> list[Any]:
    """A progress point's customdata: its hover label, then what the side panel shows when the point is clicked."""
    meta = details["meta"]
    title = meta.get("title") or row.get("description") or ""
    runtime = row.get("runtime_seconds")
    hover = [
        f"<b>{html.escape(row['candidate'])}</b> ({row['status'].value})",
        _wrapped(title),
        "<i>" + _wrapped(meta.get("hypothesis") or "no hypothesis recorded") + "</i>",
        f"score {_number(row.get('score'))} · runtime {_number(runtime, '.1f')}{' s' if runtime is not None else ''}",
    ]
    if row.get("failure_reason"):
        hover.append(_wrapped(row["failure_reason"]))
    return ["<br>".join(hover), row["candidate"], title, row["status"].value, details["diff"], details["args"]]


def _layout(fig: go.Figure, height: float, **extra: Any) -> go.Figure:
    defaults = {
        "template": "plotly_white",
        "font": {"family": FONT, "size": 12},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
        "hoverlabel": {"align": "left"},
        "hovermode": "closest",
    }
    fig.update_layout(defaults | {"height": height} | extra)
    return fig


def _ring(size: int) -> dict[str, Any]:
    """A literature-event member's marker: an open purple ring around its point."""
    return {"symbol": "circle-open", "size": size, "color": LITERATURE, "line": {"width": 2}}


def progress_figure(
    task: Task, rows: list[dict], details: dict[str, dict]
) -> tuple[go.Figure, list[tuple[str, int, int]]]:
    """Scored candidates in campaign order with the running best and the baseline, failures along the bottom. Also
    returns each candidate's point in campaign order as (candidate, trace, point): how the page finds a point."""
    fig = go.Figure()
    points: list[tuple[int, str, int, int]] = []  # (order, candidate, trace, point)
    scored = [r for r in rows if r["status"].scored]
    values = [r["score"] for r in scored]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = max(high - low, 1e-3)
    bottom, top = low - 0.15 * span, high + 0.2 * span
    width = [0.5, max(len(rows), 1) + 0.5]

    def add(group: list[dict], y: list[float], name: str, marker: dict[str, Any], clickable: bool = True) -> None:
        if not group:
            return
        if clickable:
            points.extend((r["order"], r["candidate"], len(fig.data), i) for i, r in enumerate(group))
        fig.add_scatter(
            x=[r["order"] for r in group],
            y=y,
            mode="markers",
            name=f"{name} ({len(group)})",
            marker=marker,
            customdata=[_progress_point(r, details[r["candidate"]]) for r in group],
            hovertemplate="%{customdata[0]}<extra></extra>",
        )

    best = [r for r in rows if r["best_so_far"] is not None]
    fig.add_scatter(
        x=[r["order"] for r in best],
        y=[r["best_so_far"] for r in best],
        mode="lines",
        name="running best",
        line={"shape": "hv", "color": INCUMBENT_GREEN, "width": 2.5},
        opacity=0.75,
        hoverinfo="skip",
    )
    baseline = next((r["score"] for r in rows if r["status"] is Status.BASELINE), None)
    if baseline is not None:
        fig.add_scatter(
            x=width,
            y=[baseline, baseline],
            mode="lines",
            name="baseline",
            hoverinfo="skip",
            line={"dash": "dash", "color": NEUTRAL},
        )
    for name, style in STYLE.items():
        status = Status(name)
        group = [r for r in scored if r["status"] is status]
        outline = {"color": "black" if "edgecolors" in style else NEUTRAL, "width": 0.5}  # a pale dot stays visible
        size = 16 if status is Status.BASELINE else 10 if "edgecolors" in style else 8
        marker = {"color": style["color"], "size": size, "symbol": SYMBOLS.get(status, "circle"), "line": outline}
        add(group, [r["score"] for r in group], name, marker | {"opacity": style["alpha"]})
    linked = [r for r in scored if r.get("literature_event")]
    add(linked, [r["score"] for r in linked], "literature batch", _ring(17), clickable=False)
    for name, style in FAILED.items():
        group = [r for r in rows if r["status"] is Status(name)]
        marker = {"color": style["color"], "size": 10, "symbol": PLOTLY_SYMBOLS[style["marker"]]}
        add(group, [bottom + 0.06 * (top - bottom)] * len(group), name, marker)
    for r in rows:
        if r["status"] is Status.LITERATURE:
            fig.add_vline(x=r["order"], line={"color": LITERATURE, "dash": "dot", "width": 1.5})
            fig.add_annotation(
                x=r["order"],
                y=top,
                text=html.escape(r["candidate"]),
                hovertext=_wrapped(r["description"], 60),
                showarrow=False,
                xanchor="left",
                yanchor="top",
                font={"color": LITERATURE},
            )
    better = "higher" if task.orientation > 0 else "lower"
    _layout(
        fig,
        480,
        xaxis={"title": "candidate (campaign order)", "range": width, "tickformat": "d"},
        yaxis={"title": f"{task.metric['name']} on search-validation ({better} is better)", "range": [bottom, top]},
        legend={"orientation": "h", "y": -0.16},
        clickmode="event",
    )
    return fig, [(candidate, trace, point) for _, candidate, trace, point in sorted(points)]


def tree_figure(tree: Lineage) -> go.Figure:
    """The candidates as a tree (generations left to right, campaign order downwards), coloured by status as in the
    progress plot; the incumbent chain is the thick green path and literature-event members are ringed."""
    fig = go.Figure()
    at = {node.candidate: node for node in tree.nodes}
    chain = set(tree.chain_edges)
    lines = {
        "edge": ("parent → child", {"color": "#95a5a6", "width": 1.2}),
        "adopted": ("parent not in the ledger: under the baseline", {"color": "#95a5a6", "width": 1.2, "dash": "dot"}),
        "chain": ("incumbent chain", {"color": INCUMBENT_GREEN, "width": 5}),
    }
    paths: dict[str, tuple[list[float | None], list[float | None]]] = {kind: ([], []) for kind in lines}
    for parent, child in tree.edges:  # elbows: siblings share the vertical stroke half a generation out
        start, end = at[parent], at[child]
        for kind in ("adopted" if end.adopted else "edge", *(["chain"] if (parent, child) in chain else [])):
            paths[kind][0].extend([start.x, start.x + 0.5, start.x + 0.5, end.x, None])
            paths[kind][1].extend([start.y, start.y, end.y, end.y, None])
    for kind, (name, line) in lines.items():
        if paths[kind][0]:
            fig.add_scatter(
                x=paths[kind][0],
                y=paths[kind][1],
                mode="lines",
                name=name,
                line=line,
                hoverinfo="skip",
                opacity=0.75 if kind == "chain" else 1.0,
            )
    named = tree.named
    parents = {parent for parent, _ in tree.edges}
    for status in Status:
        nodes = [n for n in tree.nodes if n.status is status]
        if nodes:
            fig.add_scatter(
                x=[n.x for n in nodes],
                y=[n.y for n in nodes],
                mode="markers+text",
                name=f"{status.value} ({len(nodes)})",
                marker={
                    "color": STATUS_COLORS[status],
                    "size": 18 if status is Status.BASELINE else 12,
                    "symbol": SYMBOLS.get(status, "circle"),
                    "line": {"color": "#555", "width": 0.6},
                },
                text=[html.escape(n.candidate) if n.candidate in named else "" for n in nodes],
                textposition=["top right" if n.candidate in parents else "middle right" for n in nodes],
                textfont={"size": 11, "color": [INCUMBENT_GREEN if n.incumbent else "#2c3e50" for n in nodes]},
                customdata=[
                    [html.escape(n.candidate), _number(n.score), html.escape(n.parent or "none")] for n in nodes
                ],
                hovertemplate=f"<b>%{{customdata[0]}}</b> ({status.value})<br>score %{{customdata[1]}}"
                "<br>parent %{customdata[2]}<extra></extra>",
            )
    for event in tree.events:
        members = [n for n in tree.nodes if n.literature_event == event["id"]]
        if members:
            fig.add_scatter(
                x=[n.x for n in members],
                y=[n.y for n in members],
                mode="markers",
                marker=_ring(26),
                name=f"{html.escape(event['id'])} members ({len(members)})",
                hovertemplate=f"{html.escape(event['id'])}: {_wrapped(event['description'], 60)}<extra></extra>",
            )
    generations = max((node.depth for node in tree.nodes), default=0)
    leaves = max((node.y for node in tree.nodes), default=0.0)
    return _layout(
        fig,
        min(1200, max(300, 34 * (leaves + 3))),  # a long campaign's tree is squeezed, not a page long
        xaxis={
            "title": "generation (edits away from the baseline)",
            "tickformat": "d",
            "dtick": 1,
            "range": [-0.4, generations + 1.4],
            "zeroline": False,
        },
        yaxis={"visible": False, "autorange": "reversed"},
    )


def arm_figures(task: Task, rows: list[dict], evidence: dict) -> tuple[go.Figure, go.Figure]:
    """The agent against the scalar controls at equal cost: best so far per arm against the simulations it spent,
    and each arm's search scores as a box with its points."""
    runs = arm_runs(rows, evidence.get("controls") or [])
    curves, boxes = go.Figure(), go.Figure()
    for arm, scores in runs.items():
        color, name = ARM_COLORS.get(arm, NEUTRAL), ARM_NAMES.get(arm, arm)
        x = list(range(1, len(scores) + 1))
        curves.add_scatter(
            x=x,
            y=scores,
            mode="markers",
            marker={"color": color, "size": 7, "opacity": 0.4},
            name=f"{name}: runs",
            hovertemplate=f"{name}<br>run %{{x}}: %{{y:.4f}}<extra></extra>",
        )
        curves.add_scatter(
            x=x,
            y=best_so_far(task, scores),
            mode="lines",
            name=f"{name}: best so far ({len(scores)} runs)",
            line={"shape": "hv", "color": color, "width": 2.5},
            hoverinfo="skip",
        )
        boxes.add_box(
            y=[s for s in scores if s is not None],
            name=name,
            marker={"color": color},
            boxpoints="all",
            jitter=0.4,
            pointpos=0,
            hovertemplate=f"{name}: %{{y:.4f}}<extra></extra>",
        )
    base = evidence.get("baseline_search_score")
    if base is not None:
        for fig in (curves, boxes):
            fig.add_hline(y=base, line={"dash": "dash", "color": NEUTRAL})
    spent = "simulations spent by the arm"
    if len(runs) > 1:
        equal = equal_cost(runs)
        curves.add_vline(x=equal, line={"dash": "dot", "color": "#34495e"})
        spent += f" (dotted: equal cost, {equal} runs each)"
    metric = f"{task.metric['name']} on search-validation"
    _layout(
        curves,
        400,
        xaxis={"title": spent, "tickformat": "d"},
        yaxis={"title": metric},
        legend={"orientation": "h", "y": -0.2},
    )
    _layout(boxes, 400, yaxis={"title": metric}, showlegend=False)
    return curves, boxes


def _error_bars(summaries: list[dict[str, Any]]) -> dict[str, Any]:
    """Plotly error bars of the summaries' 95% intervals (none where a summary has no interval)."""
    return {
        "type": "data",
        "symmetric": False,
        "array": [s["ci_high"] - s["mean"] if has_interval(s) else 0.0 for s in summaries],
        "arrayminus": [s["mean"] - s["ci_low"] if has_interval(s) else 0.0 for s in summaries],
    }


def _entry_label(entry: dict) -> str:
    return f"{html.escape(str(entry.get('candidate', '?')))} ({html.escape(str(entry.get('role') or 'n/a'))})"


def seeds_figure(evidence: dict) -> go.Figure:
    """Per entry, its paired differences to the baseline per seed and their mean with its 95% interval, on the
    search-validation repeat and on the held-out split; seeds added to a promising winner are hollow."""
    entries = evidence.get("entries") or []
    fixed = {str(seed) for seed in evidence.get("repeat_seeds") or []}
    panels = (
        ("diff_per_seed", "repeat", "search-validation repeat"),
        ("heldout_diff_per_seed", "heldout_vs_baseline", "held-out"),
    )
    fig = make_subplots(
        rows=1, cols=2, shared_yaxes=True, subplot_titles=[title for *_, title in panels], horizontal_spacing=0.04
    )
    for col, (per_seed, summary_key, _) in enumerate(panels, start=1):
        for entry in entries:
            label, color = _entry_label(entry), ARM_COLORS["agent"] if entry.get("role") == "winner" else "#e67e22"
            diffs = {str(seed): diff for seed, diff in (entry.get(per_seed) or {}).items()}
            fig.add_scatter(
                x=list(diffs.values()),
                y=[label] * len(diffs),
                mode="markers",
                marker={
                    "color": color,
                    "size": 9,
                    "opacity": 0.6,
                    "symbol": ["circle-open" if fixed and seed not in fixed else "circle" for seed in diffs],
                },
                customdata=list(diffs),
                hovertemplate=f"{label}<br>seed %{{customdata}}: %{{x:+.4f}}<extra></extra>",
                showlegend=False,
                row=1,
                col=col,
            )
            summary = stage_summary(entry.get(summary_key))
            if summary.get("mean") is not None:
                fig.add_scatter(
                    x=[summary["mean"]],
                    y=[label],
                    mode="markers",
                    error_x=_error_bars([summary]),
                    marker={"symbol": "diamond", "size": 12, "color": color},
                    showlegend=False,
                    hovertemplate=f"{label}<br>mean [95% interval] {interval_text(summary)}<extra></extra>",
                    row=1,
                    col=col,
                )
        fig.add_vline(x=0, line={"dash": "dash", "color": NEUTRAL}, row=1, col=col)
    fig.update_xaxes(title_text="paired difference to the baseline (positive = better)")
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, max(260, 60 * len(entries) + 130), margin={"l": 170, "r": 20, "t": 50, "b": 50})


def shrinkage_figure(evidence: dict, task: Task) -> go.Figure:
    """Each entry's gain over the baseline stage after stage, from the one search run that selected it to the
    held-out split, each mean with its 95% interval: how much of the selecting gain was the luck of one run."""
    entries = evidence.get("entries") or []
    labels = [_entry_label(entry) for entry in entries]
    fig = go.Figure()
    for key, name, color in SHRINKAGE_STAGES:
        summaries = [stage_summary(entry.get(key)) for entry in entries]
        fig.add_scatter(
            x=labels,
            y=[s.get("mean") for s in summaries],
            mode="markers",
            name=name,
            marker={"color": color, "size": 10},
            error_y=_error_bars(summaries),
            customdata=[interval_text(s) for s in summaries],
            hovertemplate=f"%{{x}}<br>{name}: %{{customdata}}<extra></extra>",
        )
    fig.add_hline(y=0, line={"dash": "dash", "color": NEUTRAL})
    return _layout(
        fig,
        400,
        yaxis={"title": f"gain in {task.metric['name']} (positive = better)"},
        scattermode="group",
        legend={"orientation": "h", "y": -0.15},
    )


def _confirmed(summary: dict[str, Any]) -> str:
    if "confirmed" not in summary:
        return ""
    return "confirmed" if summary["confirmed"] else "not confirmed"


def winner_cards(evidence: dict) -> list[dict[str, Any]]:
    """Per evidence entry, its card: attribution, reasons and every stage's estimate (n/a where one is missing)."""
    cards = []
    for entry in evidence.get("entries") or []:
        heldout = entry.get("heldout") or {}
        race, repeat = stage_summary(entry.get("race_gain")), stage_summary(entry.get("repeat"))
        held, versus = stage_summary(entry.get("heldout_vs_baseline")), stage_summary(entry.get("versus_control"))
        held_mean = sum(heldout.values()) / len(heldout) if heldout else None
        stages = [
            ("search score (1 run)", _number(entry.get("search_score")), ""),
            ("search gain (1 run)", interval_text(stage_summary(entry.get("search_gain"))), ""),
            ("race gain", interval_text(race), f"search seeds: {entry.get('search_seeds') or 'n/a'}"),
            ("repeat gain, search-validation", interval_text(repeat), _confirmed(repeat)),
            ("held-out score", _number(held_mean), f"mean over {len(heldout)} seeds" if heldout else ""),
            ("held-out gain", interval_text(held), _confirmed(held)),
            ("held-out gain over the best control", interval_text(versus), _confirmed(versus)),
        ]
        cards.append(
            {
                "candidate": entry.get("candidate", "?"),
                "role": entry.get("role") or "n/a",
                "attribution": entry.get("attribution") or "n/a",
                "reasons": "; ".join(entry.get("reasons") or []),
                "stages": stages,
            }
        )
    return cards


def _cell(value: Any) -> str:
    """A cost value as the page shows it: lists joined, times to a tenth, n/a for nothing."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "n/a"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return "n/a" if value is None or value == "" else str(value)


def cost_tables(cost: dict, evidence: dict | None, details: dict[str, dict]) -> dict[str, Any]:
    """The measured cost (``cost.campaign_cost``: totals and per phase, counted from the run records when the page is
    written), the simulations selection spent (the evidence's count per phase) and the agents' self-reported cost
    (the sums and each candidate's own account in its metadata)."""
    phases = cost.get("phases") or {}
    phase_keys = list(dict.fromkeys(key for phase in phases.values() for key in phase))
    reported = {cid: d["meta"]["cost"] for cid, d in details.items() if isinstance(d["meta"].get("cost"), dict)}
    reported_keys = list(dict.fromkeys(key for values in reported.values() for key in values))
    return {
        "totals": [(key, _cell(value)) for key, value in (cost.get("totals") or {}).items()],
        "phase_keys": phase_keys,
        "phases": [
            (PHASE_NAMES.get(name, name), [_cell(p.get(key)) for key in phase_keys]) for name, p in phases.items()
        ],
        "simulations": [(key, _cell(value)) for key, value in ((evidence or {}).get("cost") or {}).items()],
        "self_reported": [(key, _cell(value)) for key, value in (cost.get("self_reported") or {}).items()],
        "reported_keys": reported_keys,
        "reported": [(cid, [_cell(values.get(key)) for key in reported_keys]) for cid, values in reported.items()],
    }


def ledger_table(rows: list[dict]) -> dict[str, Any]:
    """The ledger's key columns and the cost columns some row fills; each cell as the ledger writes it, with its
    kind (how the page aligns and wraps it)."""
    costs = [
        name
        for name in COST_COLUMNS
        if len({row.get(name) for row in rows} - {None, ""}) > (1 if name in PLACE_COLUMNS else 0)
    ]
    columns = [*LEDGER_KEY_COLUMNS[:8], *costs, *LEDGER_KEY_COLUMNS[8:]]
    kinds = {name: "num" if name in (*INTEGER_CELLS, *NUMBER_CELLS) else "id" for name in columns}
    kinds |= {"status": "status", "description": "text", "failure_reason": "text"}
    body = []
    for row in rows:
        cells = format_row(row)
        values = [cells.get(name, _cell(row.get(name))) for name in columns]
        body.append(
            {
                "status": row["status"].value,
                "cells": [(kinds[name], value) for name, value in zip(columns, values, strict=True)],
            }
        )
    return {"columns": columns, "rows": body, "statuses": sorted({row["status"].value for row in rows})}


def _script_json(value: Any) -> str:
    """JSON that cannot end the ``<script>`` element it is embedded in, nor switch its parsing state."""
    return json.dumps(value, separators=(",", ":")).replace("</", "<\\/").replace("<!--", "\\u003c!--")


TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("flcampaign.reporting"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _asset(name: str) -> str:
    """The page's own style or script (``templates/``), embedded as it is: the page fetches nothing."""
    return (importlib.resources.files("flcampaign.reporting") / "templates" / name).read_text(encoding="utf-8")


def write_dashboard(
    out: Path, task: Task, rows: list[dict], state: dict, evidence: dict | None, results: Path, live: bool
) -> None:
    """Write the campaign's dashboard (its ledger rows, guard state and winners' evidence) to ``out``, atomically;
    ``live`` pages reload themselves while the campaign runs."""
    records = Records(Path(results))
    details = {
        r["candidate"]: candidate_details(records, r["candidate"]) for r in rows if r["status"] is not Status.LITERATURE
    }
    progress, points = progress_figure(task, rows, details)
    tree = lineage(rows)
    figures = {"progress": progress, "tree": tree_figure(tree)}
    if evidence is not None:
        figures["arms"], figures["arm-scores"] = arm_figures(task, rows, evidence)
        if evidence.get("entries"):
            figures["seeds"], figures["shrinkage"] = seeds_figure(evidence), shrinkage_figure(evidence, task)
    best, baseline = state.get("best") or {}, state.get("baseline") or {}
    data = {
        "figures": {name: json.loads(fig.to_json()) for name, fig in figures.items()},
        "points": [[trace, point] for _, trace, point in points],
        "selected": next((i for i, (cid, *_) in enumerate(points) if cid == best.get("candidate")), len(points) - 1),
        "rows": len(rows),
        "reloadSeconds": RELOAD_SECONDS,
    }
    gain = None
    if best.get("score") is not None and baseline.get("score") is not None:
        gain = task.gain(best["score"], baseline["score"])
    counts = state.get("counts") or {}
    page = TEMPLATES.get_template("dashboard.html.j2").render(
        task=task,
        direction="higher is better" if task.orientation > 0 else "lower is better",
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        state=state,
        counts={status: count for status, count in counts.items() if status != "total"},
        total=counts.get("total", len(rows)),
        colors={status.value: color for status, color in STATUS_COLORS.items()},
        best=best,
        baseline=baseline,
        gain=_number(gain, "+.4f"),
        number=_number,
        wbr=Markup("_<wbr>"),  # column names break after an underscore
        live=live,
        reload_seconds=RELOAD_SECONDS,
        ledger=ledger_table(rows),
        events=tree.events,
        evidence=evidence,
        cards=winner_cards(evidence) if evidence else [],
        cost=cost_tables(campaign_cost(records.root), evidence, details),
        plotly_js=Markup(plotly.offline.get_plotlyjs()),
        data=Markup(_script_json(data)),
        css=Markup(_asset("dashboard.css")),
        script=Markup(_asset("dashboard.js")),
        live_script=Markup(_asset("dashboard_live.js")),
    )
    atomic_write_text(Path(out), page)
