rule progress:
    input:
        tsv=rules.ledger.output.tsv,
    output:
        plot=report(
            CAMPAIGN.progress_plot, category="Report", caption="captions/progress.rst"
        ),
    log:
        RECORDS.log("progress.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("progress"),
        task=TASK_DIGEST,
    script:
        "../scripts/progress.py"


rule lineage:
    input:
        tsv=rules.ledger.output.tsv,
    output:
        plot=report(
            CAMPAIGN.lineage_plot, category="Report", caption="captions/lineage.rst"
        ),
    log:
        RECORDS.log("lineage.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("lineage"),
    script:
        "../scripts/lineage.py"


rule report:
    input:
        unpack(kept_chain_records),
        tsv=rules.ledger.output.tsv,
        state=rules.ledger.output.state,
        winners=rules.winner_stats.output.evidence,
        plot=rules.progress.output.plot,
        lineage=rules.lineage.output.plot,
    output:
        markdown=CAMPAIGN.report_md,
        pdf=report(
            CAMPAIGN.report_pdf, category="Report", caption="captions/report.rst"
        ),
        repeats=report(
            CAMPAIGN.repeats_plot, category="Winners", caption="captions/repeats.rst"
        ),
        race=report(
            CAMPAIGN.race_plot, category="Selection", caption="captions/race_plot.rst"
        ),
        control_arms=report(
            CAMPAIGN.control_arms_plot,
            category="Winners",
            caption="captions/control_arms.rst",
        ),
        shrinkage=report(
            CAMPAIGN.shrinkage_plot,
            category="Winners",
            caption="captions/shrinkage.rst",
        ),
    log:
        RECORDS.log("report.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("report"),
        task=TASK_DIGEST,
        command="make run",
    script:
        "../scripts/report.py"


rule dashboard:
    input:
        tsv=rules.ledger.output.tsv,
        state=rules.ledger.output.state,
        winners=rules.winner_stats.output.evidence,
    output:
        html=report(
            CAMPAIGN.dashboard, category="Report", caption="captions/dashboard.rst"
        ),
    log:
        RECORDS.log("dashboard.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("dashboard"),
        task=TASK_DIGEST,
    script:
        "../scripts/dashboard.py"
