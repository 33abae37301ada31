from pathlib import Path

from flcampaign.evidence import racing
from flcampaign.evidence.ledger import read_tsv
from flcampaign.evidence.selection import select
from flcampaign.files import atomic_write_text, read_json, write_json
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
task = task_of(snakemake.config)
chosen = select(
    task=task,
    rows=read_tsv(snakemake.input.tsv),
    race=read_json(snakemake.input.race),
    top_k=snakemake.params.top_k,
    n_controls=snakemake.params.n_controls,
    control_seed=snakemake.params.control_seed,
    search_seed=snakemake.params.search_seed,
)
write_json(Path(snakemake.output.selection), chosen)
atomic_write_text(
    Path(snakemake.output.race),
    racing.to_tsv(chosen["race"], task.orientation),
)
