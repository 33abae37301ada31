from pathlib import Path

from flcampaign.evidence import tpe_controls
from flcampaign.files import read_json, write_json
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
task = task_of(snakemake.config)
settings = tpe_controls.TpeSettings.from_config(snakemake.params.controls)
if snakemake.params.start:
    state = tpe_controls.start(task, settings, snakemake.params.start["n"])
else:
    records = Records(Records.holding(Path(snakemake.output.state)))
    previous = read_json(snakemake.input.previous)
    state = tpe_controls.advance(task, settings, previous, records, snakemake.params.search_seed)
write_json(Path(snakemake.output.state), state)
