from pathlib import Path

from flcampaign.data.splits import prepare
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
prepare(task_of(snakemake.config), Path(snakemake.output.manifest).parent)
