from pathlib import Path

from flcampaign.ledger import write_ledger
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
write_ledger(
    task=task_of(snakemake.config),
    results=Path("results"),
    candidate_ids=snakemake.params.candidates,
    seed=snakemake.params.seed,
    min_delta=snakemake.params.min_delta,
    plateau=snakemake.params.plateau,
    tsv=Path(snakemake.output.tsv),
    state=Path(snakemake.output.state),
)
