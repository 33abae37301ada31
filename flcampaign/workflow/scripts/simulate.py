from pathlib import Path

from flcampaign.execution.capacity import Footprint
from flcampaign.execution.runner import simulate
from flcampaign.execution.sandbox import choose
from flcampaign.execution.slots import machine_slots
from flcampaign.files import read_json
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
execution = snakemake.config["execution"]
reference = read_json(snakemake.input.reference) if snakemake.input.reference else None
footprint = Footprint.of([reference] if reference else [])
simulate(
    task=task_of(snakemake.config),
    validation=read_json(snakemake.input.validation),
    tree=Path(snakemake.input.tree),
    train_dir=Path(snakemake.input.train),
    phase=snakemake.wildcards.phase,
    seed=int(snakemake.wildcards.seed),
    out_dir=Path(snakemake.output.run).parent,
    work_dir=Path(snakemake.params.work),
    slots=machine_slots(execution["simulations_per_gpu"], execution["cpu_slots"], footprint),
    lock_dir=Path(snakemake.params.slots),
    sandbox=choose(execution["sandbox"]),
    reference=reference,
    footprint=footprint,
    short_waits=execution["shorten_nvflare_waits"],
)
