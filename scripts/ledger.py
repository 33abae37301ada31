from pathlib import Path

from flcampaign.guard import GuardConfig
from flcampaign.ledger import write_ledger
from flcampaign.literature import load_events
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
write_ledger(
    task=task_of(snakemake.config),
    results=Path("results"),
    candidate_ids=snakemake.params.candidates,
    seed=snakemake.params.seed,
    min_delta=snakemake.params.min_delta,
    guard=GuardConfig(**snakemake.params.guard),
    events=load_events(Path("literature")),
    tsv=Path(snakemake.output.tsv),
    state=Path(snakemake.output.state),
)
