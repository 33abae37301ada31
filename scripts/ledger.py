from pathlib import Path

from flcampaign.agent.guard import GuardConfig
from flcampaign.agent.state import write_state
from flcampaign.contract.literature import load_events
from flcampaign.evidence.ledger import write_ledger
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
task = task_of(snakemake.config)
rows = write_ledger(
    task=task,
    results=Path("results"),
    candidate_ids=snakemake.params.candidates,
    seed=snakemake.params.seed,
    min_delta=snakemake.params.min_delta,
    events=load_events(Path("literature")),
    tsv=Path(snakemake.output.tsv),
)
write_state(task, rows, GuardConfig(**snakemake.params.guard), Path(snakemake.output.state))
