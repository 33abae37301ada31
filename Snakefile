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
        rules.ledger.output.tsv,
        rules.ledger.output.state,
        rules.select_winners.output.selection,
        rules.winner_stats.output.tsv,
        rules.report.output.markdown,
        rules.report.output.pdf,
        rules.progress.output.plot,
        rules.report.output.repeats,
        rules.report.output.race,
