from pathlib import Path

from flcampaign.evidence.controls import write_reference
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
write_reference(task_of(snakemake.config), Records.holding(Path(snakemake.output.record)))
