"""Report rebuild (plots, Markdown, PDF) from a 1,000-row ledger (target: at most 30 s).

The ledger and records are synthetic but have the real formats: validation records with an
effective diff for every kept candidate, and winner evidence for two winners over five seeds.

Usage: python bench/report_rebuild.py [rows]
"""

import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from flcampaign.agent.guard import GuardConfig
from flcampaign.agent.state import campaign_state
from flcampaign.evidence import racing, winners
from flcampaign.evidence.controls import BEST_CONTROL
from flcampaign.evidence.cost import campaign_cost
from flcampaign.evidence.ledger import to_tsv
from flcampaign.files import atomic_write_text, write_json
from flcampaign.layout import Records
from flcampaign.records import ledger_row
from flcampaign.reporting.plot import progress_plot, repeats_plot
from flcampaign.reporting.report import write_report
from flcampaign.task import Task

REPO = Path(__file__).resolve().parent.parent
TARGET_S = 30.0
DIFF = "--- a/client.py\n+++ b/client.py\n@@ -1,1 +1,1 @@\n-lr = 0.001\n+lr = 0.002\n"


def synthetic_rows(n: int, results: Path) -> list[dict]:
    rng = random.Random(0)
    rows, best = [], None
    for order in range(1, n + 1):
        cid = f"c{order:05d}"
        roll = rng.random()
        status, score = (
            ("crash", None) if roll < 0.05 else ("invalid", None) if roll < 0.08 else ("scored", rng.gauss(0.7, 0.03))
        )
        if status == "scored":
            status = "baseline" if best is None else "keep" if score > best else "discard"
            best = score if status in ("baseline", "keep") else best
        rows.append(
            ledger_row(
                order=order, candidate=cid, parent="baseline", status=status, score=score, metric="accuracy",
                split="search_val", runtime_seconds=60.0, kind="argument_only", family="lr", patch_sha256="0" * 64,
                tree_sha256=f"{order:064d}", budget_sha256="1" * 64, seed=0, description=f"candidate {order}",
                failure_reason="candidate x: client.py: rule client-contract: broken" if status == "invalid" else "",
                best_so_far=best, artifacts=f"results/runs/search/{cid}/seed0",
            )
        )  # fmt: skip
        write_json(
            results / "candidates" / cid / "validation.json", {"meta": {"hypothesis": "h"}, "args": {"lr": 0.002}}
        )
        atomic_write_text(results / "candidates" / cid / "effective.diff", DIFF)
    return rows


def synthetic_evidence(task: Task, results: Path) -> dict:
    """Two winners (one with a real gain, one without), the baseline and two scalar controls, their repeat and
    held-out scores written as records over five seeds; the evidence built from them by the library."""
    rng = random.Random(1)
    seeds = [42, 43, 44, 45, 46]
    records = Records(results)
    arms = {"c00001": 0.0, "c00010": 0.03, "c00020": 0.0, BEST_CONTROL: 0.01}
    base = {s: rng.gauss(0.72, 0.03) for s in seeds}
    for cid, shift in arms.items():
        for seed in seeds:
            for path in (records.score_record("repeat", cid, seed), records.heldout_record(cid, seed)):
                write_json(path, {"state": "ok", "score": base[seed] + shift + rng.gauss(0, 0.01)})
    for cid, score in (("c00010", 0.75), ("c00020", 0.74)):
        write_json(records.score_record("search", cid, 0), {"state": "ok", "score": score})
    controls = [{"id": f"_ctl-00{i}", "args": {"lr": 0.01 * i}} for i in (1, 2)]
    for i, control in enumerate(controls, 1):
        write_json(records.score_record("control", control["id"], 0), {"state": "ok", "score": 0.70 + 0.01 * i})
    write_json(
        records.validation(BEST_CONTROL), {"candidate": BEST_CONTROL, "state": "ok", "source_control": "_ctl-002"}
    )
    off = racing.RaceSettings(contenders=0, seeds=(), batch=1, alpha=0.1, top_k=1)
    race = racing.enter({"c00010": 0.75, "c00020": 0.74}, off, 1.0, ("c00001", 0.72))
    selection = {
        "baseline": "c00001",
        "winners": [{"candidate": cid, "reasons": ["top by search score"]} for cid in ("c00010", "c00020")],
        "controls": controls,
        "n_scored_agent_candidates": 2,
        "race": racing.summary(race, racing.ranking(race, 1.0, 0), 0),
    }
    return winners.build(task, selection, results, seeds, 0)


@dataclass(frozen=True)
class SyntheticCampaign:
    """A synthetic campaign on disk (records, ledger, evidence) and what the report and the dashboard read of it."""

    task: Task
    results: Path
    reports: Path
    rows: list[dict]
    evidence: dict
    state: dict


@contextmanager
def synthetic_campaign(n: int) -> Iterator[SyntheticCampaign]:
    """An ``n``-row campaign in a temporary folder, removed afterwards."""
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
    with tempfile.TemporaryDirectory() as tmp:
        results, reports = Path(tmp) / "results", Path(tmp) / "reports"
        reports.mkdir()
        rows = synthetic_rows(n, results)
        atomic_write_text(results / "results.tsv", to_tsv(rows))
        evidence = synthetic_evidence(task, results)
        state = campaign_state(task, rows, GuardConfig()) | {"cost": campaign_cost(results)}
        yield SyntheticCampaign(task, results, reports, rows, evidence, state)


def rebuild_report(campaign: SyntheticCampaign) -> None:
    """What the report rule does: the plots, the Markdown and the PDF."""
    task, rows, reports, evidence = campaign.task, campaign.rows, campaign.reports, campaign.evidence
    progress_plot(rows, task, reports / "progress.png")
    repeats_plot(evidence, reports / "repeats.png")
    write_report(
        task, rows, campaign.state, campaign.results, reports / "report.md", reports / "report.pdf",
        reports / "progress.png", "make run", evidence, reports / "repeats.png",
    )  # fmt: skip


def main(n: int = 1000) -> None:
    with synthetic_campaign(n) as campaign:
        start = time.perf_counter()
        rebuild_report(campaign)
        elapsed = time.perf_counter() - start
        size_kb = (campaign.reports / "report.pdf").stat().st_size / 1024
    kept = sum(r["status"] == "keep" for r in campaign.rows)
    print(f"report rebuild from a {n}-row ledger ({kept} kept candidates with diffs): {elapsed:.1f} s")
    print(f"PDF size {size_kb:.0f} kB")
    print(f"target {TARGET_S:.0f} s: time / target = {elapsed / TARGET_S:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
