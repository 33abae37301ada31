rule control_candidate:
    output:
        record="results/candidates/{control}/validation.json",
        tree=directory("results/candidates/{control}/src"),
        diff="results/candidates/{control}/effective.diff",
    log:
        "results/logs/controls/{control}.log",
    wildcard_constraints:
        control=r"_ctl-\d+",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("control_candidate"),
        task=TASK_DIGEST,
        args=control_args,
    script:
        "../scripts/control_candidate.py"


rule best_control:
    input:
        scores=control_scores,
    output:
        record="results/candidates/_ctl-best/validation.json",
        tree=directory("results/candidates/_ctl-best/src"),
        diff="results/candidates/_ctl-best/effective.diff",
    log:
        "results/logs/controls/best.log",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("best_control"),
        task=TASK_DIGEST,
        seed=SEARCH_SEED,
    script:
        "../scripts/best_control.py"
