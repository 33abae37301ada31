rule progress:
    input:
        tsv="results/results.tsv",
    output:
        plot=report(
            "reports/progress.png", category="Report", caption="captions/progress.rst"
        ),
    log:
        "results/logs/progress.log",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("progress"),
        task=TASK_DIGEST,
    script:
        "../scripts/progress.py"


rule report:
    input:
        tsv="results/results.tsv",
        state="results/campaign_state.json",
        winners="results/winners.json",
        plot="reports/progress.png",
    output:
        markdown="reports/report.md",
        pdf=report(
            "reports/report.pdf", category="Report", caption="captions/report.rst"
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
        code=code("report"),
        task=TASK_DIGEST,
        command="make run",
    script:
        "../scripts/report.py"
