from pathlib import Path

from flcampaign.evidence import adaptive_seeds
from flcampaign.files import read_json, write_json
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
task = task_of(snakemake.config)
settings = adaptive_seeds.AdaptiveSettings.from_config(snakemake.params.adaptive)
records = Records(Records.holding(Path(snakemake.output.state)))
if snakemake.params.start:
    state = adaptive_seeds.start(task, snakemake.params.start, records, snakemake.params.repeat_seeds, settings)
else:
    state = adaptive_seeds.advance(task, read_json(snakemake.input.previous), records, settings)
write_json(Path(snakemake.output.state), state)
