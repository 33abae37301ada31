from pathlib import Path

from flcampaign.evidence.ledger import read_tsv
from flcampaign.reporting.plot import lineage_plot
from flcampaign.workflow import log_to

log_to(snakemake.log[0])
lineage_plot(read_tsv(snakemake.input.tsv), Path(snakemake.output.plot))
