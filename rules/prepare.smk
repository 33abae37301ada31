rule prepare_splits:
    input:
        profile=str(TASK_DIR / "profile.yaml"),
        raw=sorted(str(p) for p in (TASK_DIR / TASK.profile["data"]["raw"]).iterdir()),
        lib=lib("splits", f"datasets/{TASK.profile['data']['loader']}"),
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
    script:
        "../scripts/prepare_splits.py"
