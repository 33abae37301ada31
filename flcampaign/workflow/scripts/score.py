from pathlib import Path

from flcampaign.execution.sandbox import choose
from flcampaign.files import read_json
from flcampaign.scoring.evaluator import score_run
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
score_run(
    task=task_of(snakemake.config),
    run=read_json(snakemake.input.run),
    run_dir=Path(snakemake.input.run).parent,
    tree=Path(snakemake.input.tree),
    split_dir=Path(snakemake.input.split).parent,
    split=Path(snakemake.input.split).name,
    out_path=Path(snakemake.output.score),
    sandbox=choose(snakemake.config["execution"]["sandbox"]),
    reference=read_json(snakemake.input.reference),
)
