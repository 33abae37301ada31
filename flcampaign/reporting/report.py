"""The campaign report, built from the ledger and the per-candidate records only (no simulation).

Markdown is the source; the PDF is rendered from it by pandoc (HTML) and WeasyPrint.
"""

import importlib.metadata
import platform
from pathlib import Path

from flcampaign.agent.guard import literature_batches
from flcampaign.contract.literature import proposal_total, ranked_proposals
from flcampaign.files import atomic_write_text, read_json, read_yaml
from flcampaign.layout import Records
from flcampaign.task import Task

PACKAGES = ("nvflare", "torch", "snakemake", "numpy", "pandas", "scikit-learn")
PDF_CSS = """
@page { size: A4; margin: 16mm; }
body { font-family: sans-serif; font-size: 9.5pt; line-height: 1.35; }
table { border-collapse: collapse; font-size: 7.5pt; margin: 6px 0; width: 100%; }
th, td { border: 1px solid #bbb; padding: 2px 4px; vertical-align: top; }
pre, code { font-size: 7.5pt; white-space: pre-wrap; word-break: break-all; }
img { max-width: 100%; }
h1, h2, h3 { color: #1a5276; }
"""


def _table(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def environment() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {"python": platform.python_version(), "platform": platform.platform(), **versions}


def _relative(value: float, base: float) -> str:
    return f"{100 * (value - base) / abs(base):+.1f}%" if base else "n/a"


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _interval(summary: dict | None) -> str:
    if not summary:
        return "n/a"
    return f"{summary['mean']:+.4f} [{summary['ci_low']:+.4f}, {summary['ci_high']:+.4f}]"


def winners_markdown(evidence: dict, repeats_plot: str) -> list[str]:
    """Repeats, held-out, controls, attribution and noise floor of the selected winners."""
    metric = evidence["metric"]["name"]
    seeds = ", ".join(str(s) for s in evidence["repeat_seeds"])
    out = ["## Winners: repeats, held-out checks and controls", ""]
    if not evidence["entries"]:
        return [*out, "No candidate was selected (nothing was scored besides the baseline).", ""]
    out += [
        f"Selected candidates, the baseline and the best scalar control were re-run on the repeat seeds ({seeds}), "
        "which the search never used, and paired with the baseline seed by seed. Differences are oriented so "
        f"that positive is better. Test: {evidence['test']}.",
        "",
        "### Repeats on search-validation",
        "",
    ]
    base = evidence["baseline_scores"]
    rows = [[evidence["baseline"], "baseline", "", ", ".join(_num(v) for v in base.values()), "", "", "", ""]]
    for e in evidence["entries"]:
        repeat = e["repeat"] or {}
        summary = e["summary"] or {}
        rows.append(
            [
                e["candidate"],
                " ".join([e["role"], *(r for r in e["reasons"] if r.startswith("= "))]),
                _num(e["search_score"]),
                ", ".join(_num(v) for v in e["scores"].values()),
                f"{_num(summary.get('mean'))} ± {_num(summary.get('sd'))}" if summary else "",
                _interval(e["repeat"]),
                _num(repeat.get("p_one_sided"), 3),
                _num(repeat.get("p_two_sided"), 3),
            ]
        )
    headers = ["candidate", "role", "search score", f"{metric} per seed", "mean ± sd", "paired gain [95% CI]"]
    out += [_table([*headers, "p one-sided", "p two-sided"], rows), ""]
    out += ["![Paired differences to the baseline](" + repeats_plot + ")", ""]
    out += ["### Held-out (same final models, held-out split)", ""]
    held_rows = [
        [evidence["baseline"], "baseline", ", ".join(_num(v) for v in evidence["baseline_heldout"].values()), "", ""]
    ]
    for e in evidence["entries"]:
        held = e["heldout_vs_baseline"] or {}
        held_rows.append(
            [
                e["candidate"],
                e["role"],
                ", ".join(_num(v) for v in e["heldout"].values()),
                _interval(e["heldout_vs_baseline"]),
                _num(held.get("p_one_sided"), 3),
            ]
        )
    out += [
        _table(["candidate", "role", f"held-out {metric} per seed", "paired gain [95% CI]", "p one-sided"], held_rows),
        "",
    ]
    out += ["### Same-budget scalar controls", ""]
    controls = evidence["controls"]
    out += [
        f"{len(controls)} controls drawn from the declared knobs of the unchanged baseline recipe (fixed seed), "
        "each run once at the search seed; the best by search score was repeated like a winner.",
        "",
        _table(
            ["control", "knobs", "search score"],
            [[c["id"], ", ".join(f"{k}={v}" for k, v in c["args"].items()), _num(c["search_score"])] for c in controls],
        ),
        "",
    ]
    out += ["### Attribution", ""]
    attribution_rows = [
        [
            e["candidate"],
            _interval(e["repeat"]),
            _interval(e["heldout_vs_baseline"]),
            _interval(e["versus_control"]),
            f"**{e['attribution']}**",
        ]
        for e in evidence["entries"]
        if e["role"] == "winner"
    ]
    out += [
        _table(
            ["winner", "gain vs baseline", "held-out gain", "gain vs best control", "attribution"], attribution_rows
        ),
        "",
    ]
    out += [f"- *{name}*: {rule}." for name, rule in evidence["attribution_rules"].items()] + [""]
    floor = evidence.get("noise_floor") or {}
    out += ["### Noise floor", ""]
    if floor.get("sd") is not None:
        out += [
            f"Baseline over {floor['n']} repeat seeds: mean {floor['mean']:.4f}, sd {floor['sd']:.4f} "
            f"(a single search run differs from the baseline by noise alone at about this scale).",
            "",
        ]
    same = floor.get("same_seed")
    if same:
        agreement = (
            "bitwise identical final models"
            if same["max_weight_difference"] == 0
            else "the runs differ at float-rounding level (NVFlare sums client updates in arrival order)"
        )
        out += [
            f"Same-seed re-run of the baseline (seed {same['seed']}): {same['first']:.6f} then {same['rerun']:.6f}, "
            f"score difference {same['score_difference']:.2e}, "
            f"largest weight difference {same['max_weight_difference']:.2e}: {agreement}.",
            "",
        ]
    return out


def _event_outcome(members: list[dict], complete: bool) -> str:
    """helped (a batch member was kept), failed (none scored), no gain, or incomplete."""
    if any(m["status"] == "keep" for m in members):
        return "helped"
    if not complete:
        return "incomplete"
    return "no gain" if any(m["status"] == "discard" for m in members) else "failed"


def literature_markdown(rows: list[dict], state: dict, campaign_dir: Path, metric: str) -> list[str]:
    """Each literature event: trigger, kept sources, ranked proposals, its batch and the outcome."""
    events = [r for r in rows if r["kind"] == "literature"]
    out = ["## Literature events and outcomes", ""]
    if not events:
        return out + ["None recorded.", ""]
    batch = (state.get("guard") or {}).get("literature_batch", 3)
    batches = {b["event"]: b for b in literature_batches(rows, batch)}
    by_id = {r["candidate"]: r for r in rows}
    for r in events:
        out += [f"### {r['candidate']}: {r['description'] or '(unreadable)'}", ""]
        if r["status"] != "literature":
            out += [f"Not counted: {r['failure_reason']}", ""]
            continue
        event = read_yaml(campaign_dir / r["artifacts"])
        found = batches[r["candidate"]]
        members = [by_id[cid] for cid in found["members"]]
        linked = [x for x in rows if x["literature_event"] == r["candidate"] and x["kind"] != "literature"]
        outcome = _event_outcome(members, found["completed_at"] is not None)
        out += [
            f"Trigger: {event['trigger']}",
            "",
            "Sources kept: "
            + ", ".join(f"{s['ref']} ({s['title']})" for s in event["sources"] if s["decision"] == "keep"),
            "",
            _table(
                ["proposal", "total", "mechanism", "falsifier"],
                [
                    [p["id"], proposal_total(p["scores"]), p["mechanism"], p["falsifier"]]
                    for p in ranked_proposals(event)
                ],
            ),
            "",
            _table(
                ["linked candidate", "status", metric, "kind"],
                [[x["candidate"], x["status"], x["score"], x["kind"]] for x in linked],
            )
            if linked
            else "No candidate linked yet.",
            "",
            f"Outcome: **{outcome}** ({len(members)} of {batch} scored source-edited candidates in its batch).",
            "",
        ]
    return out


def null_markdown(rows: list[dict], baseline: dict | None, task: Task) -> list[str]:
    """Scored ideas that did not beat the baseline: worth knowing so they are not proposed again."""
    out = ["## Null or worse ideas", ""]
    if baseline is None:
        return out + ["No baseline to compare with.", ""]
    metric = task.metric["name"]
    null = [r for r in rows if r["status"] == "discard" and not task.better(float(r["score"]), baseline["score"])]
    return out + [
        _table(
            ["candidate", metric, "vs baseline", "family", "description"],
            [
                [
                    r["candidate"],
                    r["score"],
                    f"{float(r['score']) - baseline['score']:+.4f}",
                    r["family"],
                    r["description"],
                ]
                for r in null
            ],
        )
        if null
        else "None: every discarded candidate still beat the baseline.",
        "",
    ]


def build_markdown(
    task: Task,
    rows: list[dict],
    state: dict,
    results: Path,
    plot_name: str,
    command: str,
    evidence: dict | None = None,
    repeats_plot: str = "repeats.png",
) -> str:
    metric, direction = task.metric["name"], task.metric["direction"]
    budget = task.budget
    baseline, best = state.get("baseline"), state.get("best")
    out = [f"# Campaign report: {task.title}", ""]
    if state.get("sandbox_notice"):
        out += [f"> **Warning: unsandboxed.** {state['sandbox_notice']}", ""]
    out += ["## Objective and contract", "", task.objective, ""]
    note = task.budget_note
    if note:
        out += [
            f"**Shortened budget:** {note} (the task's budget is the profile's; this campaign ran a demo budget).",
            "",
        ]
    out += [_table(["budget field", "value"], [[k, v] for k, v in budget.items()]), ""]
    out += [
        f"Metric: **{metric}** ({task.metric['kind']}, {'higher' if direction == 'max' else 'lower'} is better), "
        f"aggregated over sites as **{task.metric['site_aggregation']}**, computed by the trusted evaluator on the "
        "**search-validation** split from the saved final global model. Client-reported metrics are never the score.",
        "",
        f"Editable files: {', '.join(task.surface['editable'])}; creatable: {', '.join(task.surface['creatable'])}; "
        f"fixed: {', '.join(task.surface['fixed'])} plus the profile, the splits and the evaluator.",
        "",
        _table(
            ["knob", "type", "range / choices", "default"],
            [
                [n, s["type"], s.get("choices", f"{s.get('min')} .. {s.get('max')}"), s["default"]]
                for n, s in task.knobs.items()
            ],
        ),
        "",
    ]
    out += ["## Baseline vs best", ""]
    if baseline and best:
        delta = best["score"] - baseline["score"]
        out += [
            _table(
                ["", "candidate", metric],
                [
                    ["baseline", baseline["candidate"], f"{baseline['score']:.4f}"],
                    ["best", best["candidate"], f"{best['score']:.4f}"],
                ],
            ),
            "",
            f"Difference: **{delta:+.4f}** absolute, **{_relative(best['score'], baseline['score'])}** relative "
            "(single search run per candidate; a winner is a hypothesis until repeated over seeds).",
            "",
        ]
    else:
        out += ["No baseline has been scored yet.", ""]
    counts = state["counts"]
    out += ["## Decisions", "", ", ".join(f"{k}: {v}" for k, v in counts.items() if v), ""]
    decision_rows = []
    for r in rows:
        delta = f"{float(r['score']) - baseline['score']:+.4f}" if r["score"] and baseline else ""
        decision_rows.append([r["order"], r["candidate"], r["status"], r["score"], delta, r["kind"], r["description"]])
    out += [_table(["#", "candidate", "status", metric, "vs baseline", "kind", "description"], decision_rows), ""]
    simulated = [float(r["runtime_seconds"]) for r in rows if r["runtime_seconds"] and float(r["runtime_seconds"]) > 0]
    out += ["## Runtime", ""]
    if simulated:
        devices = ", ".join(sorted(_devices(rows, Path(results).parent)))
        out += [
            f"{len(simulated)} simulations, {sum(simulated):.0f} s of simulation in total, "
            f"{sum(simulated) / len(simulated):.1f} s per simulation on average "
            f"(min {min(simulated):.1f} s, max {max(simulated):.1f} s). Device(s): {devices}.",
            "",
        ]
    out += compute_markdown(rows, task)
    out += ["## Progress", "", f"![Campaign progress]({plot_name})", ""]
    if evidence is not None:
        out += winners_markdown(evidence, repeats_plot)
    failures = [r for r in rows if r["status"] in ("crash", "timeout", "invalid")]
    out += ["## Crash and invalid notes", ""]
    out += [
        _table(
            ["candidate", "status", "reason"], [[r["candidate"], r["status"], r["failure_reason"]] for r in failures]
        )
        if failures
        else "None.",
        "",
    ]
    out += literature_markdown(rows, state, Path(results).parent, metric)
    out += null_markdown(rows, baseline, task)
    duplicates = [r for r in rows if r["duplicate_of"]]
    if duplicates:
        out += [
            "Duplicates (same effective tree and knobs as an earlier candidate): "
            + ", ".join(f"{r['candidate']} = {r['duplicate_of']}" for r in duplicates),
            "",
        ]
    out += ["## Kept chain", ""]
    for r in [r for r in rows if r["status"] in ("baseline", "keep")]:
        out += [f"### {r['candidate']} ({r['status']}, {metric} {r['score']})", "", r["description"], ""]
        validation = read_json(Records(Path(results)).validation(r["candidate"]))
        meta = validation.get("meta") or {}
        if meta.get("hypothesis"):
            out += [f"Hypothesis: {meta['hypothesis']}", ""]
        if validation.get("args"):
            out += ["Knobs: " + ", ".join(f"`{k}={v}`" for k, v in validation["args"].items()), ""]
        diff_path = Records(Path(results)).effective_diff(r["candidate"])
        diff = diff_path.read_text(encoding="utf-8") if diff_path.is_file() else ""
        out += [
            "Effective change against the task's base sources:",
            "",
            "```diff",
            diff.rstrip() or "(no source change)",
            "```",
            "",
        ]
    out += ["## Ledger", "", "Full ledger: `results/results.tsv`.", ""]
    cols = [
        "order",
        "candidate",
        "parent",
        "status",
        "score",
        "best_so_far",
        "runtime_seconds",
        "family",
        "changed_files",
        "tree_sha256",
    ]
    out += [_table(cols, [[r[c][:12] if c == "tree_sha256" else r[c] for c in cols] for r in rows]), ""]
    out += ["## Environment and reproduction", ""]
    out += [_table(["component", "version"], [[k, v] for k, v in environment().items()]), ""]
    out += ["Reproduce this campaign (re-runs only what is missing or changed):", "", "```sh", command, "```", ""]
    out += [
        "Rebuild this report from the ledger without simulating: `snakemake report --cores 1` (or `make report`).",
        "",
    ]
    return "\n".join(out)


def compute_markdown(rows: list[dict], task: Task) -> list[str]:
    """Each scored run's compute against the budget: CPU (and GPU) seconds and the share of the reference."""
    measured = [r for r in rows if r.get("cpu_seconds")]
    if not measured:
        return []
    cap = task.budget.get("max_compute_ratio", 1.5)
    ratios = [float(r["compute_ratio"]) for r in measured if r.get("compute_ratio")]
    over = [r["candidate"] for r in measured if r.get("compute_ratio") and float(r["compute_ratio"]) > cap]
    summary = (
        f"Compute budget: {cap}x the CPU seconds of the reference run (the baseline at the knobs' maxima). "
        f"{len(measured)} runs measured, {sum(float(r['cpu_seconds']) for r in measured):.0f} CPU-s in all"
    )
    if ratios:
        summary += f"; ratio to the reference from {min(ratios):.2f} to {max(ratios):.2f}"
    summary += f"; over the budget: {', '.join(over) if over else 'none'}."
    table = [
        [r["candidate"], r["status"], r["cpu_seconds"], r["gpu_seconds"] or "-", r["compute_ratio"] or "-"]
        for r in measured
    ]
    return [summary, "", _table(["candidate", "status", "CPU s", "GPU s", "ratio"], table), ""]


def _devices(rows: list[dict], campaign_dir: Path) -> set[str]:
    devices = set()
    for r in rows:
        run = campaign_dir / r["artifacts"] / "run.json"
        if r["runtime_seconds"] and run.is_file():
            devices.add(read_json(run).get("device", "unknown"))
    return devices or {"unknown"}


def render_pdf(markdown_path: Path, pdf_path: Path) -> None:
    """Markdown -> standalone HTML (pandoc) -> PDF (WeasyPrint); images resolve next to the Markdown."""
    import pypandoc
    import weasyprint

    html = pypandoc.convert_file(
        str(markdown_path), "html5", extra_args=["--standalone", "--metadata", "pagetitle=Campaign report"]
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
) -> None:
    plot_names = (Path(plot).name, Path(repeats_plot or "repeats.png").name)
    text = build_markdown(task, rows, state, results, plot_names[0], command, evidence, plot_names[1])
    atomic_write_text(markdown, text)
    render_pdf(markdown, pdf)
