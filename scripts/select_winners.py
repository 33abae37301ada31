from pathlib import Path

from flcampaign.evidence.ledger import read_tsv
from flcampaign.evidence.selection import select
from flcampaign.files import write_json
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
chosen = select(
    task=task_of(snakemake.config),
    rows=read_tsv(snakemake.input.tsv),
    top_k=snakemake.params.top_k,
    n_controls=snakemake.params.n_controls,
    control_seed=snakemake.params.control_seed,
)
write_json(Path(snakemake.output.selection), chosen)
