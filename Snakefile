from snakemake.utils import min_version

min_version("9.27")


configfile: "config.yaml"


report: "rules/captions/workflow.rst"


include: "rules/common.smk"
include: "rules/prepare.smk"
include: "rules/validate.smk"
include: "rules/simulate.smk"
include: "rules/score.smk"
include: "rules/ledger.smk"
include: "rules/select.smk"
include: "rules/controls.smk"
include: "rules/compute.smk"
include: "rules/stats.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        "results/results.tsv",
        "results/campaign_state.json",
        "results/selection.json",
        "results/winners.tsv",
        "reports/report.md",
        "reports/report.pdf",
        "reports/progress.png",
        "reports/repeats.png",
