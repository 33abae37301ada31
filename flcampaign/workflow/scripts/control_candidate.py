from pathlib import Path

from flcampaign.evidence.controls import write_control
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
control = {"id": snakemake.wildcards.control, "args": dict(snakemake.params.args)}
write_control(task_of(snakemake.config), control, Records.holding(Path(snakemake.output.record)))
