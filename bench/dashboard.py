"""Dashboard rebuild from a 1,000-row ledger, against the report rebuild from the same ledger in the same run.

The dashboard is rewritten after every ledger rebuild (by the workflow and by ``flcampaign watch``), so it must
cost well under what the report does. Prints the dashboard's rebuild time and size and the ratio of its time to
the report's (plots, Markdown, PDF), both measured here on the same synthetic campaign (``report_rebuild``'s rows
with a diff and knob values for every candidate, and two winners' evidence).

Usage: python bench/dashboard.py [rows]
"""

import sys
import time

from report_rebuild import rebuild_report, synthetic_campaign

from flcampaign.reporting.dashboard import write_dashboard
from flcampaign.reporting.plot import lineage_plot


def main(n: int = 1000) -> None:
    with synthetic_campaign(n) as campaign:
        dashboard = campaign.reports / "dashboard.html"
        start = time.perf_counter()
        write_dashboard(dashboard, campaign.task, campaign.rows, campaign.state, campaign.evidence, campaign.results,
                        live=True)  # fmt: skip
        dashboard_s = time.perf_counter() - start
        size_mb = dashboard.stat().st_size / 2**20

        start = time.perf_counter()
        lineage_plot(campaign.rows, campaign.reports / "lineage.png")
        lineage_s = time.perf_counter() - start

        start = time.perf_counter()
        rebuild_report(campaign)
        report_s = time.perf_counter() - start
    print(f"dashboard from a {n}-row ledger: {dashboard_s:.2f} s, {size_mb:.1f} MB")
    print(f"lineage plot: {lineage_s:.2f} s")
    print(f"report rebuild (plots, Markdown, PDF) from the same ledger: {report_s:.2f} s")
    print(f"dashboard / report rebuild = {dashboard_s / report_s:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
