from pathlib import Path

from flcampaign.contract.validation import validate_candidate
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
validate_candidate(Path("candidates"), snakemake.wildcards.candidate, task_of(snakemake.config), Path("results"))
