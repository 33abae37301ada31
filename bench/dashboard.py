"""Dashboard rebuild from a 1,000-row ledger, against the report rebuild from the same ledger in the same run.

The dashboard is rewritten after every ledger rebuild (by the workflow and by ``flcampaign watch``), so it must
cost well under what the report does. Prints the dashboard's rebuild time and size and the ratio of its time to
the report's (plots, Markdown, PDF), both measured here on the same synthetic campaign (``report_rebuild``'s rows
with a diff and knob values for every candidate, and two winners' evidence).

Usage: python bench/dashboard.py [rows]
"""

import sys
import tempfile
import time
from pathlib import Path

from report_rebuild import REPO, synthetic_evidence, synthetic_rows

from flcampaign.agent.guard import GuardConfig
from flcampaign.agent.state import campaign_state
from flcampaign.evidence.cost import campaign_cost
from flcampaign.evidence.ledger import to_tsv
from flcampaign.files import atomic_write_text
from flcampaign.reporting.dashboard import write_dashboard
from flcampaign.reporting.plot import lineage_plot, progress_plot, repeats_plot
from flcampaign.reporting.report import write_report
from flcampaign.task import Task


def main(n: int = 1000) -> None:
    task = Task.load(REPO / "flcampaign" / "tasks" / "heart_disease")
    with tempfile.TemporaryDirectory() as tmp:
        results, reports = Path(tmp) / "results", Path(tmp) / "reports"
        reports.mkdir()
        rows = synthetic_rows(n, results)
        atomic_write_text(results / "results.tsv", to_tsv(rows))
        evidence = synthetic_evidence(task, results)
        state = campaign_state(task, rows, GuardConfig()) | {"cost": campaign_cost(results)}

        start = time.perf_counter()
        write_dashboard(reports / "dashboard.html", task, rows, state, evidence, results, live=True)
        dashboard_s = time.perf_counter() - start
        size_mb = (reports / "dashboard.html").stat().st_size / 2**20

        start = time.perf_counter()
        lineage_plot(rows, reports / "lineage.png")
        lineage_s = time.perf_counter() - start

        start = time.perf_counter()
        progress_plot(rows, task, reports / "progress.png")
        repeats_plot(evidence, reports / "repeats.png")
        write_report(
            task, rows, state, results, reports / "report.md", reports / "report.pdf", reports / "progress.png",
            "make run", evidence, reports / "repeats.png",
        )  # fmt: skip
        report_s = time.perf_counter() - start
    print(f"dashboard from a {n}-row ledger: {dashboard_s:.2f} s, {size_mb:.1f} MB")
    print(f"lineage plot: {lineage_s:.2f} s")
    print(f"report rebuild (plots, Markdown, PDF) from the same ledger: {report_s:.2f} s")
    print(f"dashboard / report rebuild = {dashboard_s / report_s:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
