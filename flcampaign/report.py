"""The campaign report, built from the ledger and the per-candidate records only (no simulation).

Markdown is the source; the PDF is rendered from it by pandoc (HTML) and WeasyPrint.
"""

import importlib.metadata
import platform
from pathlib import Path

from flcampaign.files import atomic_write_text, read_json
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


def build_markdown(task: Task, rows: list[dict], state: dict, results: Path, plot_name: str, command: str) -> str:
    metric, direction = task.metric["name"], task.metric["direction"]
    budget = task.budget
    baseline, best = state.get("baseline"), state.get("best")
    out = [f"# Campaign report: {task.profile['title']}", ""]
    out += ["## Objective and contract", "", task.profile["objective"], ""]
    note = task.profile.get("budget_note")
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
        devices = ", ".join(sorted(_devices(rows)))
        out += [
            f"{len(simulated)} simulations, {sum(simulated):.0f} s of simulation in total, "
            f"{sum(simulated) / len(simulated):.1f} s per simulation on average "
            f"(min {min(simulated):.1f} s, max {max(simulated):.1f} s). Device(s): {devices}.",
            "",
        ]
    out += ["## Progress", "", f"![Campaign progress]({plot_name})", ""]
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
        validation = read_json(Path(results) / "candidates" / r["candidate"] / "validation.json")
        meta = validation.get("meta") or {}
        if meta.get("hypothesis"):
            out += [f"Hypothesis: {meta['hypothesis']}", ""]
        if validation.get("args"):
            out += ["Knobs: " + ", ".join(f"`{k}={v}`" for k, v in validation["args"].items()), ""]
        diff_path = Path(results) / "candidates" / r["candidate"] / "effective.diff"
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


def _devices(rows: list[dict]) -> set[str]:
    devices = set()
    for r in rows:
        run = Path(r["artifacts"]) / "run.json"
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
    task: Task, rows: list[dict], state: dict, results: Path, markdown: Path, pdf: Path, plot: Path, command: str
) -> None:
    text = build_markdown(task, rows, state, results, Path(plot).name, command)
    atomic_write_text(markdown, text)
    render_pdf(markdown, pdf)
