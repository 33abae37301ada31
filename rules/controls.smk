rule control_candidate:
    input:
        task=task_files(),
        lib=lib("controls", "contract", "candidate", "patches"),
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
        args=control_args,
    script:
        "../scripts/control_candidate.py"


rule best_control:
    input:
        scores=control_scores,
        lib=lib("controls", "contract"),
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
        seed=SEARCH_SEED,
    script:
        "../scripts/best_control.py"
