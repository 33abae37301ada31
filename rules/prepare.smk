rule prepare_splits:
    output:
        train=directory("results/task/train"),
        search_val=directory("results/task/search_val"),
        heldout=directory("results/task/heldout"),
        manifest="results/task/splits.json",
    log:
        "results/logs/prepare_splits.log",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code(
            "prepare_splits",
            f"flcampaign.data.datasets.{TASK.profile['data']['loader']}",
        ),
        task=TASK_DIGEST,
    script:
        "../scripts/prepare_splits.py"
