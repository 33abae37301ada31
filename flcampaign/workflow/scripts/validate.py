from pathlib import Path

from flcampaign.contract.validation import validate_candidate
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
validate_candidate(
    candidates_dir=Path(snakemake.params.candidates),
    cid=snakemake.wildcards.candidate,
    task=task_of(snakemake.config),
    results_dir=Records.holding(Path(snakemake.output.record)),
    literature_dir=Path(snakemake.params.literature),
)
