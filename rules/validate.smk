rule validate:
    input:
        candidate=candidate_files,
        parent=parent_validation,
        literature=literature_link,
    output:
        record="results/candidates/{candidate}/validation.json",
        tree=directory("results/candidates/{candidate}/src"),
        diff="results/candidates/{candidate}/effective.diff",
    log:
        "results/logs/validate/{candidate}.log",
    wildcard_constraints:
        candidate=r"[A-Za-z0-9][A-Za-z0-9_-]*",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("validate"),
        task=TASK_DIGEST,
    script:
        "../scripts/validate.py"
