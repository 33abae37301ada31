from pathlib import Path

from flcampaign.evidence.controls import control_arms, control_score_paths, pick_best_control, validated_controls
from flcampaign.evidence.tpe_controls import TpeSettings
from flcampaign.files import read_json, write_json
from flcampaign.layout import Records
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
results = Records.holding(Path(snakemake.output.record))
search_seed = snakemake.params.search_seed
tpe = read_json(snakemake.input.tpe) if snakemake.input.get("tpe") else None
score_paths = control_score_paths(snakemake.input.scores, tpe, results, search_seed)
pick_best_control(task=task_of(snakemake.config), score_paths=score_paths, results=results)
arms = control_arms(
    controls=validated_controls(score_paths, results),
    results=results,
    search_seed=search_seed,
    tpe=TpeSettings.from_config(snakemake.params.controls),
)
write_json(Path(snakemake.output.arms), arms)
