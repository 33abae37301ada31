rule compute_reference:
    output:
        record=RECORDS.validation(REFERENCE_ID),
        tree=directory(RECORDS.tree(REFERENCE_ID)),
        diff=RECORDS.effective_diff(REFERENCE_ID),
    log:
        RECORDS.log("compute_reference.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("compute_reference"),
        task=TASK_DIGEST,
    script:
        "../scripts/compute_reference.py"
