from pathlib import Path

from flcampaign.evidence.winners import write
from flcampaign.files import read_json
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
write(
    task=task_of(snakemake.config),
    selection=read_json(snakemake.input.selection),
    results=Records.holding(Path(snakemake.input.selection)),
    repeat_seeds=snakemake.params.repeat_seeds,
    search_seed=snakemake.params.search_seed,
    rerun_seed=snakemake.params.rerun_seed,
    tsv=Path(snakemake.output.tsv),
    out_json=Path(snakemake.output.evidence),
    added=read_json(snakemake.input.added),
    controls_record=read_json(snakemake.input.arms) if snakemake.input.get("arms") else None,
)
