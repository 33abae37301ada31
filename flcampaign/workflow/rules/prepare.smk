rule prepare_splits:
    output:
        train=directory(RECORDS.split("train")),
        search_val=directory(RECORDS.split("search_val")),
        heldout=directory(RECORDS.split("heldout")),
        manifest=RECORDS.splits_manifest,
    log:
        RECORDS.log("prepare_splits.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        partition=None,
        code=code("prepare_splits", *library_loader(TASK)),
        task=TASK_DIGEST,
    script:
        "../scripts/prepare_splits.py"


rule prepare_partition:
    input:
        campaign=rules.prepare_splits.output.manifest,
    output:
        train=directory(RECORDS.split("train", "{partition}")),
        search_val=directory(RECORDS.split("search_val", "{partition}")),
        heldout=directory(RECORDS.split("heldout", "{partition}")),
        manifest=RECORDS.splits_manifest_of("{partition}"),
    log:
        RECORDS.log("prepare_splits", "partition-{partition}.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        partition=lambda w: int(w.partition),
        code=rules.prepare_splits.params.code,
        task=TASK_DIGEST,
    script:
        "../scripts/prepare_splits.py"
