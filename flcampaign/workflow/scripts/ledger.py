from pathlib import Path

from flcampaign.agent.guard import GuardConfig
from flcampaign.agent.state import write_state
from flcampaign.contract.literature import load_events
from flcampaign.evidence.ledger import write_ledger
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
task = task_of(snakemake.config)
rows = write_ledger(
    task=task,
    results=Records.holding(Path(snakemake.output.tsv)),
    candidate_ids=snakemake.params.candidates,
    seed=snakemake.params.seed,
    keep_margin=snakemake.params.keep_margin,
    events=load_events([Path(path) for path in snakemake.input.literature]),
    tsv=Path(snakemake.output.tsv),
    refused=snakemake.params.refused,
)
guard = GuardConfig(**snakemake.params.guard)
write_state(task, rows, guard, Path(snakemake.output.state), Path(snakemake.params.campaign))
