from pathlib import Path

from flcampaign.evidence.ledger import read_tsv
from flcampaign.files import read_json
from flcampaign.layout import Records
from flcampaign.reporting.dashboard import write_dashboard
from flcampaign.workflow import log_to, task_of

log_to(snakemake.log[0])
write_dashboard(
    out=Path(snakemake.output.html),
    task=task_of(snakemake.config),
    rows=read_tsv(snakemake.input.tsv),
    state=read_json(snakemake.input.state),
    evidence=read_json(snakemake.input.winners),
    results=Records.holding(Path(snakemake.input.tsv)),
    live=False,
)
