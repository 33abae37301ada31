rule report:
    input:
        tsv="results/results.tsv",
        state="results/campaign_state.json",
        lib=lib("report", "plot", "ledger"),
    output:
        markdown="reports/report.md",
        pdf="reports/report.pdf",
        plot="reports/progress.png",
    log:
        "results/logs/report.log",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        command="make run",
    script:
        "../scripts/report.py"
