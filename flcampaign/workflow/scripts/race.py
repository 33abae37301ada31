from pathlib import Path

from flcampaign.evidence import racing
from flcampaign.evidence.ledger import read_tsv
from flcampaign.files import read_json, write_json
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
task = task_of(snakemake.config)
settings = racing.RaceSettings.from_config(snakemake.params.selection)
records = Records(Records.holding(Path(snakemake.output.state)))
search_seed = snakemake.params.search_seed
if snakemake.input.get("tsv"):
    rows = read_tsv(snakemake.input.tsv)
    state = racing.start(task, rows, settings, racing.recorded_search_score(records, search_seed))
else:
    previous = read_json(snakemake.input.previous)
    state = racing.next_step(task, previous, records, settings, search_seed)
write_json(Path(snakemake.output.state), state)
