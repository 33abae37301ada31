rule validate:
    input:
        candidate=candidate_files,
        parent=parent_validation,
        literature=literature_link,
        task=task_files(),
        lib=lib("candidate", "contract", "patches", "errors", "schemas", "literature"),
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
    script:
        "../scripts/validate.py"
