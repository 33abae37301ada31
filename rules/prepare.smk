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
        code=code(
            "prepare_splits",
            f"flcampaign.data.datasets.{TASK.data['loader']}",
        ),
        task=TASK_DIGEST,
    script:
        "../scripts/prepare_splits.py"
