from pathlib import Path

from flcampaign.evidence import racing
from flcampaign.evidence.ledger import read_tsv
from flcampaign.files import read_json, write_json
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
task = task_of(snakemake.config)
settings = racing.RaceSettings.from_config(snakemake.params.selection)
if snakemake.input.get("tsv"):
    state = racing.start(task, read_tsv(snakemake.input.tsv), settings)
else:
    state = racing.next_step(
        task,
        read_json(snakemake.input.previous),
        Records(Records.holding(Path(snakemake.input.previous))),
        settings,
        snakemake.params.search_seed,
    )
write_json(Path(snakemake.output.state), state)
