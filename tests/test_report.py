"""The campaign report and progress plot, built from a scripted ledger (no simulation)."""

import html
import json
import re
import shutil
import struct
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import REPO, with_direction

from flcampaign.agent.guard import GuardConfig
from flcampaign.agent.state import campaign_state
from flcampaign.evidence.ledger import build_rows, read_tsv, to_tsv
from flcampaign.files import atomic_write_text, write_json
from flcampaign.records import Status, ledger_row
from flcampaign.reporting.plot import control_arms_plot, progress_plot
from flcampaign.reporting.report import build_markdown, control_arms_section, write_report
from flcampaign.task import Task

TASK_ROOT = REPO / "flcampaign" / "tasks" / "heart_disease"
COMMAND = "make run CONFIG=config.yaml"
KEEP_DIFF = """--- a/client.py
+++ b/client.py
@@ -10,3 +10,4 @@
     loss = criterion(output, target)
+    loss = loss + 0.5 * mu * proximal_term
     loss.backward()
"""
SECTIONS = (
    "## Objective and contract",
    "## Baseline vs best",
    "## Decisions",
    "## Runtime",
    "## Progress",
    "## Crash and invalid notes",
    "## Literature events and outcomes",
    "## Null or worse ideas",
    "## Kept chain",
    "## Ledger",
    "## Environment and reproduction",
)


def add_candidate(
    results: Path,
    cid: str,
    minute: int,
    score: float | None = None,
    *,
    baseline: bool = False,
    run_state: str = "ok",
    valid: bool = True,
    reason: str = "",
    runtime: float = 10.0,
    args: dict | None = None,
    diff: str = "",
    hypothesis: str = "",
    literature_event: str = "",
) -> None:
    meta = {
        "title": f"title of {cid}",
        "hypothesis": hypothesis or f"hypothesis of {cid}",
        "family": "fedprox",
        "created": f"2026-11-24T00:{minute:02d}:00+00:00",
        "literature_event": literature_event,
    }
    validation = {
        "candidate": cid,
        "state": "ok" if valid else "invalid",
        "reason": "" if valid else reason,
        "meta": meta,
        "parent": "baseline",
        "args": args or {},
        "is_baseline": baseline,
        "changed_files": ["client.py"] if diff else [],
        "tree_sha256": f"{cid:0<64}",
        "effective_args": args or {},
    }
    folder = results / "candidates" / cid
    write_json(folder / "validation.json", validation)
    atomic_write_text(folder / "effective.diff", diff)
    run_dir = results / "runs" / "search" / cid / "seed0"
    if not valid:
        write_json(run_dir / "run.json", {"state": "skipped", "reason": "validation: invalid"})
        write_json(run_dir / "score.json", {"state": "skipped"})
        return
    write_json(
        run_dir / "run.json",
        {"state": run_state, "reason": reason, "runtime_seconds": runtime, "device": "cpu"},
    )
    score_record = {"state": "ok", "score": score} if run_state == "ok" else {"state": "skipped"}
    write_json(run_dir / "score.json", score_record)


def ledger_of(task: Task, results: Path, ids: list[str], tmp: Path) -> tuple[list[dict], dict]:
    """Rows as the report script reads them (through the TSV), and the campaign state."""
    rows = build_rows(task, results, ids, 0, 0.0)
    state = campaign_state(task, rows, GuardConfig(plateau=8, material_gain=0.0))
    tsv = tmp / "results.tsv"
    tsv.write_text(to_tsv(rows), encoding="utf-8")
    return read_tsv(tsv), state


@pytest.fixture(scope="module")
def task() -> Task:
    return Task.load(TASK_ROOT)


@pytest.fixture
def campaign(tmp_path, task) -> tuple[Path, list[dict], dict]:
    results = tmp_path / "results"
    add_candidate(results, "c0-base", 0, 0.70, baseline=True, runtime=10.0)
    add_candidate(results, "c1-lr", 1, 0.75, runtime=20.0, args={"lr": 0.01})
    add_candidate(results, "c2-worse", 2, 0.72, runtime=30.0)
    add_candidate(results, "c3-crash", 3, run_state="crash", reason="simulator exit code 1; see sim.log", runtime=5.0)
    add_candidate(results, "c4-invalid", 4, valid=False, reason="client.py: calls os.system (forbidden)")
    add_candidate(results, "c5-prox", 5, 0.80, runtime=15.0, diff=KEEP_DIFF, hypothesis="proximal pull limits drift")
    ids = ["c5-prox", "c4-invalid", "c3-crash", "c2-worse", "c1-lr", "c0-base"]
    rows, state = ledger_of(task, results, ids, tmp_path)
    assert [r["status"] for r in rows] == ["baseline", "keep", "discard", "crash", "invalid", "keep"]
    return results, rows, state


def section(text: str, heading: str) -> str:
    start = text.index(heading + "\n")
    following = [text.index(h + "\n") for h in SECTIONS if text.find(h + "\n") > start]
    return text[start : min(following, default=len(text))]


def test_markdown_has_every_section_in_order(task, campaign):
    results, rows, state = campaign
    text = build_markdown(task, rows, state, results, "progress.png", COMMAND)
    positions = [text.index(h + "\n") for h in SECTIONS]
    assert positions == sorted(positions)
    assert task.title in text.splitlines()[0]
    assert task.objective in section(text, "## Objective and contract")


def test_an_unsandboxed_campaign_says_so_on_the_first_page(task, campaign, tmp_path):
    results, rows, state = campaign
    assert state["sandbox_notice"] == ""  # no run recorded a sandbox kind: nothing to warn about
    for cid, kind in (("c0-base", "bubblewrap"), ("c1-lr", "none"), ("c2-worse", "none")):
        run_path = results / "runs" / "search" / cid / "seed0" / "run.json"
        write_json(run_path, json.loads(run_path.read_text()) | {"sandbox": {"kind": kind, "detail": ""}})
    ids = ["c0-base", "c1-lr", "c2-worse", "c3-crash", "c4-invalid", "c5-prox"]
    rows, state = ledger_of(task, results, ids, tmp_path)
    assert state["sandbox_notice"].startswith("2 of 3 runs ran without a sandbox")
    first_page = build_markdown(task, rows, state, results, "progress.png", COMMAND).split("## Objective")[0]
    assert "**Warning: unsandboxed.** 2 of 3 runs" in first_page and "apt-get install bubblewrap" in first_page


def test_baseline_vs_best_numbers(task, campaign):
    results, rows, state = campaign
    text = section(build_markdown(task, rows, state, results, "progress.png", COMMAND), "## Baseline vs best")
    absolute = 0.80 - 0.70
    relative = 100 * absolute / 0.70  # 14.2857...
    assert f"{absolute:+.4f}" == "+0.1000"
    assert "**+0.1000** absolute" in text
    assert f"**{relative:+.1f}%** relative" in text and "+14.3%" in text
    assert "| baseline | c0-base | 0.7000 |" in text
    assert "| best | c5-prox | 0.8000 |" in text


def test_decisions_and_runtime(task, campaign):
    results, rows, state = campaign
    text = build_markdown(task, rows, state, results, "progress.png", COMMAND)
    decisions = section(text, "## Decisions")
    assert "baseline: 1, keep: 2, discard: 1, crash: 1, invalid: 1, total: 6" in decisions
    assert "timeout" not in decisions.splitlines()[2]  # zero counts are left out
    assert "| 3 | c2-worse | discard | 0.720000 | +0.0200 |" in decisions
    assert "| 6 | c5-prox | keep | 0.800000 | +0.1000 |" in decisions
    runtime = section(text, "## Runtime")
    # 10 + 20 + 30 + 5 + 15 seconds over five simulations; the invalid candidate never ran.
    assert "5 simulations, 80 s of simulation in total, 16.0 s per simulation on average" in runtime
    assert "(min 5.0 s, max 30.0 s)" in runtime
    assert "Device(s): cpu." in runtime
    assert "![Campaign progress](progress.png)" in section(text, "## Progress")


def test_failures_kept_chain_ledger_and_reproduction(task, campaign):
    results, rows, state = campaign
    text = build_markdown(task, rows, state, results, "progress.png", COMMAND)
    notes = section(text, "## Crash and invalid notes")
    assert "| c3-crash | crash | simulator exit code 1; see sim.log |" in notes
    assert "| c4-invalid | invalid | client.py: calls os.system (forbidden) |" in notes
    assert "c2-worse" not in notes
    chain = section(text, "## Kept chain")
    assert [line[4:].split(" ")[0] for line in chain.splitlines() if line.startswith("### ")] == [
        "c0-base",
        "c1-lr",
        "c5-prox",
    ]
    assert "+    loss = loss + 0.5 * mu * proximal_term" in chain
    assert "Hypothesis: proximal pull limits drift" in chain
    assert "Knobs: `lr=0.01`" in chain
    assert "(no source change)" in chain  # the baseline and the knob-only candidate
    assert "c2-worse" not in chain
    ledger = section(text, "## Ledger")
    assert all(f"| {r['candidate']} |" in ledger for r in rows)
    assert "c0-base".ljust(64, "0")[:12] in ledger and "c0-base".ljust(64, "0") not in ledger
    reproduction = section(text, "## Environment and reproduction")
    assert f"```sh\n{COMMAND}\n```" in reproduction
    assert "| python |" in reproduction and "| torch |" in reproduction


def test_shortened_budget_is_stated(campaign):
    results, rows, state = campaign
    full = Task.load(TASK_ROOT)
    short = Task.load(TASK_ROOT, num_rounds=2)
    assert full.budget["num_rounds"] != 2
    short_text = build_markdown(short, rows, state, results, "progress.png", COMMAND)
    assert "**Shortened budget:** rounds shortened to 2 by the campaign config" in short_text
    assert "| num_rounds | 2 |" in short_text
    full_text = build_markdown(full, rows, state, results, "progress.png", COMMAND)
    assert "Shortened budget" not in full_text
    assert f"| num_rounds | {full.budget['num_rounds']} |" in full_text
    same = Task.load(TASK_ROOT, num_rounds=full.budget["num_rounds"])
    assert "Shortened budget" not in build_markdown(same, rows, state, results, "progress.png", COMMAND)


def test_report_without_scored_baseline(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "c0-base", 0, baseline=True, run_state="crash", reason="boom")
    rows, state = ledger_of(task, results, ["c0-base"], tmp_path)
    text = build_markdown(task, rows, state, results, "progress.png", COMMAND)
    assert "No baseline has been scored yet." in section(text, "## Baseline vs best")
    assert "| c0-base | crash | boom |" in section(text, "## Crash and invalid notes")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_write_report_renders_pdf(task, campaign, tmp_path):
    results, rows, state = campaign
    reports = tmp_path / "reports"
    reports.mkdir()
    markdown, pdf, plot = reports / "report.md", reports / "report.pdf", reports / "progress.png"
    progress_plot(rows, task, plot)
    write_report(task, rows, state, results, markdown, pdf, plot, COMMAND)
    assert markdown.read_text(encoding="utf-8") == build_markdown(task, rows, state, results, "progress.png", COMMAND)
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(data) > 10_000
    assert sorted(p.name for p in reports.iterdir()) == ["progress.png", "report.md", "report.pdf"]


PDF_PAGE = re.compile(r'<page width="([-\d.]+)" height="[-\d.]+">(.*?)</page>', re.S)
PDF_LINE = re.compile(r"<line\b[^>]*>(.*?)</line>", re.S)
PDF_WORD = re.compile(r'<word xMin="[-\d.]+" yMin="[-\d.]+" xMax="([-\d.]+)" yMax="[-\d.]+">(.*?)</word>')
EDGE = 20.0  # points; the pages' right margin is 16 mm (45 pt), so a word this close to the edge overflowed


def pdf_pages(pdf: Path, out: Path) -> list[tuple[float, list[list[tuple[float, str]]]]]:
    """Each page's width and its text lines as pdftotext lays them out, every word with its right edge (xMax)."""
    subprocess.run(["pdftotext", "-bbox-layout", str(pdf), str(out)], check=True)
    return [
        (
            float(width),
            [[(float(x), html.unescape(w)) for x, w in PDF_WORD.findall(line)] for line in PDF_LINE.findall(body)],
        )
        for width, body in PDF_PAGE.findall(out.read_text(encoding="utf-8"))
    ]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (poppler-utils) to read word positions")
def test_every_table_fits_its_page(task, campaign, tmp_path):
    """A ledger of long file lists stays inside the page to its last column, and a long description wraps into
    lines of several words, not one word per line."""
    results, rows, state = campaign
    files = ",".join(f"strategies/adaptive_server_optimiser_variant_{i}.py" for i in range(4))
    words = "quokkas wombats platypus echidnas kookaburras dingoes bilbies numbats wallabies cassowaries bandicoots"
    hashes = {r["candidate"]: f"{i:02d}" + "feedbeef5a" for i, r in enumerate(rows)}
    long_rows = [
        r
        | {"changed_files": f"client.py,model.py,{files}", "tree_sha256": hashes[r["candidate"]] + "0" * 52}
        | ({"description": words} if r["candidate"] == "c3-crash" else {})  # in the decisions table only
        for r in rows
    ]
    reports = tmp_path / "reports"
    reports.mkdir()
    plot = reports / "progress.png"
    progress_plot(long_rows, task, plot)
    write_report(task, long_rows, state, results, reports / "report.md", reports / "report.pdf", plot, COMMAND)
    pages = pdf_pages(reports / "report.pdf", tmp_path / "bbox.html")
    assert pages
    for number, (width, lines) in enumerate(pages, start=1):
        outside = [w for line in lines for x, w in line if x > width - EDGE]
        assert not outside, f"page {number}: words past the right margin: {outside}"
    printed = {w for _, lines in pages for line in lines for _, w in line}
    assert set(hashes.values()) <= printed  # the ledger's last column, whole
    description = set(words.split())
    assert max(sum(w in description for _, w in line) for _, lines in pages for line in lines) >= 3


def test_progress_plot_size(task, campaign, tmp_path):
    _, rows, _ = campaign
    out = tmp_path / "progress.png"
    progress_plot(rows, task, out)
    assert png_size(out) == (2400, 1200)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.filterwarnings("ignore:No artists with labels found")
def test_progress_plot_without_scored_rows(task, tmp_path):
    results = tmp_path / "results"
    add_candidate(results, "c0-base", 0, baseline=True, run_state="crash", reason="boom")
    add_candidate(results, "c1", 1, valid=False, reason="bad")
    rows, _ = ledger_of(task, results, ["c0-base", "c1"], tmp_path)
    assert all(r["score"] is None for r in rows)
    out = tmp_path / "failed.png"
    progress_plot(rows, with_direction(task, "min"), out)
    assert png_size(out) == (2400, 1200)
    empty = tmp_path / "empty.png"
    progress_plot([], task, empty)
    assert png_size(empty) == (2400, 1200)


def test_literature_events_and_null_ideas(task, tmp_path):
    from test_literature import review, write

    from flcampaign.contract.literature import add, load_events

    results = tmp_path / "results"
    add_candidate(results, "c0-base", 0, 0.70, baseline=True)
    moment = datetime(2026, 11, 24, 0, 1, tzinfo=UTC)
    event_id, _ = add(write(tmp_path, review(title="Momentum review")), tmp_path / "literature", now=moment)
    linked = {"c2-faithful": 0.74, "c3-tuned": 0.69, "c4-ablation": 0.65}
    for minute, (cid, score) in enumerate(linked.items(), start=2):
        add_candidate(results, cid, minute, score, diff=KEEP_DIFF, literature_event=event_id)
    add_candidate(results, "c6-crash", 6, run_state="crash", reason="boom", literature_event=event_id)
    ids = ["c0-base", *linked, "c6-crash"]
    rows = build_rows(task, results, ids, 0, 0.0, load_events(tmp_path / "literature"))
    state = campaign_state(task, rows, GuardConfig())
    text = build_markdown(task, rows, state, results, "progress.png", COMMAND)
    lit = section(text, "## Literature events and outcomes")
    assert "### lit-0001: Momentum review" in lit and "Trigger: 8 scored candidates" in lit
    assert "hsu2019 (Measuring the effects" in lit and "other2021" not in lit  # rejected sources are not listed
    assert lit.index("| P3 | 23 |") < lit.index("| P2 | 21 |") < lit.index("| P1 | 19 |")
    for cid in [*linked, "c6-crash"]:
        assert f"| {cid} |" in lit
    assert "Outcome: **helped** (3 of 3 scored source-edited" in lit
    null = section(text, "## Null or worse ideas")
    assert "| c3-tuned | 0.690000 | -0.0100 |" in null and "| c4-ablation | 0.650000 | -0.0500 |" in null
    assert "c2-faithful" not in null


def test_literature_outcome_without_a_gain(task, tmp_path):
    from test_literature import review, write

    from flcampaign.contract.literature import add, load_events

    results = tmp_path / "results"
    add_candidate(results, "c0-base", 0, 0.70, baseline=True)
    add(write(tmp_path, review()), tmp_path / "literature", now=datetime(2026, 11, 24, 0, 1, tzinfo=UTC))
    add_candidate(results, "c2", 2, 0.60, diff=KEEP_DIFF, literature_event="lit-0001")
    rows = build_rows(task, results, ["c0-base", "c2"], 0, 0.0, load_events(tmp_path / "literature"))
    text = build_markdown(task, rows, campaign_state(task, rows, GuardConfig()), results, "p.png", COMMAND)
    assert "Outcome: **incomplete** (1 of 3" in text
    add_candidate(results, "c3", 3, 0.60, diff=KEEP_DIFF, literature_event="lit-0001")
    add_candidate(results, "c4", 4, 0.60, diff=KEEP_DIFF)
    rows = build_rows(task, results, ["c0-base", "c2", "c3", "c4"], 0, 0.0, load_events(tmp_path / "literature"))
    text = build_markdown(task, rows, campaign_state(task, rows, GuardConfig()), results, "p.png", COMMAND)
    assert "Outcome: **no gain** (3 of 3" in text


def test_progress_plot_draws_literature_events_in_purple(task, tmp_path):
    import matplotlib.image

    rows = [
        ledger_row(order=1, candidate="b", status="baseline", score=0.7, best_so_far=0.7, description="b"),
        ledger_row(order=2, candidate="c", status="discard", score=0.6, best_so_far=0.7, description="c"),
        ledger_row(order=3, candidate="d", status="keep", score=0.8, best_so_far=0.8, description="d"),
    ]
    event = ledger_row(
        order=2,
        candidate="lit-0001",
        status="literature",
        best_so_far=0.7,
        literature_event="lit-0001",
        description="review",
    )
    with_event = [rows[0], event, *(dict(r, order=r["order"] + 1) for r in rows[1:])]

    def purple_pixels(plot_rows: list[dict]) -> int:
        out = tmp_path / "plot.png"
        progress_plot(plot_rows, task, out)
        image = matplotlib.image.imread(out)[..., :3]
        target = [0x8E / 255, 0x44 / 255, 0xAD / 255]
        return int((abs(image - target).max(axis=-1) < 0.08).sum())

    assert purple_pixels(rows) == 0
    assert purple_pixels(with_event) > 200  # the dotted line and its label


def test_a_min_metric_reports_every_gain_oriented(task, tmp_path):
    """Where lower is better, a lower score is a positive gain in every table, the summary and the plot."""
    low = with_direction(task, "min")
    results = tmp_path / "results"
    add_candidate(results, "c0-base", 0, 0.70, baseline=True)
    add_candidate(results, "c1-lower", 1, 0.60, diff=KEEP_DIFF)
    add_candidate(results, "c2-higher", 2, 0.75, diff=KEEP_DIFF)
    rows, state = ledger_of(low, results, ["c0-base", "c1-lower", "c2-higher"], tmp_path)
    assert [r["status"] for r in rows] == ["baseline", "keep", "discard"]
    text = build_markdown(low, rows, state, results, "progress.png", COMMAND)
    assert "Gain: **+0.1000** absolute, **+14.3%** relative" in section(text, "## Baseline vs best")
    decisions = section(text, "## Decisions")
    assert "| c1-lower | keep | 0.600000 | +0.1000 |" in decisions
    assert "| c2-higher | discard | 0.750000 | -0.0500 |" in decisions
    assert "| c2-higher | 0.750000 | -0.0500 |" in section(text, "## Null or worse ideas")
    assert "lower is better" in section(text, "## Objective and contract")


def test_the_arms_are_compared_at_the_cost_of_the_smallest(heart_task, tmp_path):
    """Agent 3 runs (one crashed), random 4, TPE 4: 'best of first 3' reads each arm after three runs, so the random
    arm's fourth and best run counts only in its overall best; the plot draws every arm."""
    rows = [
        {"status": Status.BASELINE, "score": 0.70, "order": 1},
        {"status": Status.DISCARD, "score": 0.68, "order": 2},
        {"status": Status.CRASH, "score": None, "order": 3},
        {"status": Status.INVALID, "score": None, "order": 4},  # refused before running: no cost
        {"status": Status.KEEP, "score": 0.74, "order": 5},
    ]
    random = [0.66, 0.71, None, 0.80]
    tpe = [0.69, 0.72, 0.75, 0.73]
    controls = [{"id": f"_ctl-{i:03d}", "args": {}, "arm": "random", "search_score": s} for i, s in enumerate(random)]
    controls += [{"id": f"_tpe-{i:03d}", "args": {}, "arm": "tpe", "search_score": s} for i, s in enumerate(tpe)]
    evidence = {"controls": controls, "baseline_search_score": 0.70, "tpe": {"n": 4, "batch": 2, "startup": 2}}
    section = control_arms_section(heart_task, rows, evidence, "control_arms.png")
    assert section is not None and section["equal"] == 3
    lines = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in section["table"].splitlines()[2:]
    }
    assert lines["agent"] == ["3", "2", "0.7400", "+0.0400", "0.7400", "+0.0400", "0.7100"]
    assert lines["random knobs"] == ["4", "3", "0.8000", "+0.1000", "0.7100", "+0.0100", "0.7100"]
    assert lines["TPE on the knobs"] == ["4", "4", "0.7500", "+0.0500", "0.7500", "+0.0500", "0.7250"]
    assert "batches of 2" in section["tpe"] and "first 2 were drawn at random" in section["tpe"]
    assert control_arms_section(heart_task, rows, {"controls": []}, "control_arms.png") is None
    out = tmp_path / "control_arms.png"
    control_arms_plot(rows, evidence, heart_task, out)
    assert png_size(out) == (1800, 900) and out.stat().st_size > 20_000


def test_cost_per_phase_and_self_reported_cost(task, campaign, tmp_path):
    results, rows, state = campaign
    repeat = results / "runs" / "repeat" / "c5-prox" / "seed42"
    write_json(
        repeat / "run.json",
        {"state": "ok", "runtime_seconds": 40.0, "compute": {"cpu_seconds": 44.0}, "caps": {"peak_memory_mb": 777.0}},
    )
    write_json(repeat / "heldout.json", {"state": "ok", "predict_seconds": 2.0})
    runtime = section(build_markdown(task, rows, state, results, "progress.png", COMMAND), "## Runtime")
    assert "| repeats | 1 | 40 | 44 | - | 0 | 777 |" in runtime
    assert "| held-out scoring | 1 | 0 | 0 | - | 2 | - |" in runtime
    assert "| **total** | 6 | 120 | 44 | - | 2 | 777 | cpu |" in runtime  # 5 search, 1 repeat
    assert "self-reported" not in runtime
    validation = results / "candidates" / "c1-lr" / "validation.json"
    record = json.loads(validation.read_text()) | {"meta": {"cost": {"tokens": 1500, "usd": 0.25}}}
    write_json(validation, record)
    runtime = section(build_markdown(task, rows, state, results, "progress.png", COMMAND), "## Runtime")
    assert "1 candidates report 1500 tokens and 0.25 USD (self-reported by the agent" in runtime


def test_the_tree_and_shrinkage_figures_are_placed_when_given(task, campaign):
    results, rows, state = campaign
    plain = build_markdown(task, rows, state, results, "progress.png", COMMAND)
    assert "## Candidate tree" not in plain and "lineage.png" not in plain
    text = build_markdown(task, rows, state, results, "progress.png", COMMAND, lineage_plot="lineage.png")
    assert "![Candidate tree](lineage.png)" in section(text, "## Candidate tree")
