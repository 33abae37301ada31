from pathlib import Path

from flcampaign.data.splits import prepare
from flcampaign.files import read_json
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
campaign = snakemake.input.get("campaign")
prepare(
    task_of(snakemake.config),
    Path(snakemake.output.manifest).parent,
    snakemake.params.partition,
    read_json(campaign) if campaign else None,
)
