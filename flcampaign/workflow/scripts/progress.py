from pathlib import Path

from flcampaign.evidence.ledger import read_tsv
from flcampaign.reporting.plot import progress_plot
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
task = task_of(snakemake.config)
rows = read_tsv(snakemake.input.tsv)
progress_plot(rows, task, Path(snakemake.output.plot))
