rule report:
    input:
        tsv="results/results.tsv",
        state="results/campaign_state.json",
        winners="results/winners.json",
        lib=lib("report", "plot", "ledger", "stats", "winners"),
    output:
        markdown="reports/report.md",
        pdf=report(
            "reports/report.pdf", category="Report", caption="captions/report.rst"
        ),
        plot=report(
            "reports/progress.png", category="Report", caption="captions/progress.rst"
        ),
        repeats=report(
            "reports/repeats.png", category="Winners", caption="captions/repeats.rst"
        ),
    log:
        "results/logs/report.log",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        command="make run",
    script:
        "../scripts/report.py"
