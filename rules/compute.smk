rule compute_reference:
    output:
        record=f"results/candidates/{REFERENCE_ID}/validation.json",
        tree=directory(f"results/candidates/{REFERENCE_ID}/src"),
        diff=f"results/candidates/{REFERENCE_ID}/effective.diff",
    log:
        "results/logs/compute_reference.log",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("compute_reference"),
        task=TASK_DIGEST,
    script:
        "../scripts/compute_reference.py"
