# This campaign's workflow: flcampaign's installed workflow, used as a Snakemake module with this
# folder's config.yaml (written by `flcampaign init`). Rules may be overridden below with `use rule`.
from flcampaign.workflow import SNAKEFILE


configfile: "config.yaml"


module flcampaign:
    snakefile:
        str(SNAKEFILE)
    config:
        config


use rule * from flcampaign
