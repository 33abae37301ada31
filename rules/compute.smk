rule compute_reference:
    input:
        task=task_files(),
        lib=lib("compute", "controls", "contract", "candidate", "patches"),
    output:
        record=f"results/candidates/{REFERENCE_ID}/validation.json",
        tree=directory(f"results/candidates/{REFERENCE_ID}/src"),
        diff=f"results/candidates/{REFERENCE_ID}/effective.diff",
    log:
        "results/logs/compute_reference.log",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    script:
        "../scripts/compute_reference.py"
