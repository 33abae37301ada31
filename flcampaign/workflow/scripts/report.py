from pathlib import Path

from flcampaign.evidence.ledger import read_tsv
from flcampaign.files import read_json
from flcampaign.layout import Records
from flcampaign.reporting.plot import control_arms_plot, race_plot, repeats_plot, shrinkage_plot
from flcampaign.reporting.report import write_report
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
evidence = read_json(snakemake.input.winners)
task = task_of(snakemake.config)
rows = read_tsv(snakemake.input.tsv)
repeats_plot(evidence, Path(snakemake.output.repeats))
race_plot(rows, evidence["race"], task, Path(snakemake.output.race))
control_arms_plot(rows, evidence, task, Path(snakemake.output.control_arms))
shrinkage_plot(evidence, task, Path(snakemake.output.shrinkage))
write_report(
    task=task,
    rows=rows,
    state=read_json(snakemake.input.state),
    results=Records.holding(Path(snakemake.input.tsv)),
    markdown=Path(snakemake.output.markdown),
    pdf=Path(snakemake.output.pdf),
    plot=Path(snakemake.input.plot),
    command=snakemake.params.command,
    evidence=evidence,
    repeats_plot=Path(snakemake.output.repeats),
    race_plot=Path(snakemake.output.race),
    control_arms_plot=Path(snakemake.output.control_arms),
    lineage_plot=Path(snakemake.input.lineage),
    shrinkage_plot=Path(snakemake.output.shrinkage),
)
