from pathlib import Path

from flcampaign.evidence.controls import pick_best_control
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
pick_best_control(
    task=task_of(snakemake.config),
    score_paths=[Path(path) for path in snakemake.input.scores],
    results=Records.holding(Path(snakemake.output.record)),
)
