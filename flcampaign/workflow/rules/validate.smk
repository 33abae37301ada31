rule validate:
    input:
        candidate=candidate_files,
        parent=parent_validation,
        literature=literature_link,
    output:
        record=RECORDS.validation("{candidate}"),
        tree=directory(RECORDS.tree("{candidate}")),
        diff=RECORDS.effective_diff("{candidate}"),
    log:
        RECORDS.log("validate", "{candidate}.log"),
    wildcard_constraints:
        candidate=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("validate"),
        task=TASK_DIGEST,
        candidates=CAMPAIGN.candidates,
        literature=CAMPAIGN.literature,
    script:
        "../scripts/validate.py"
