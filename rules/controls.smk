rule control_candidate:
    output:
        record=RECORDS.validation("{control}"),
        tree=directory(RECORDS.tree("{control}")),
        diff=RECORDS.effective_diff("{control}"),
    log:
        RECORDS.log("controls", "{control}.log"),
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
        record=RECORDS.validation(BEST_CONTROL),
        tree=directory(RECORDS.tree(BEST_CONTROL)),
        diff=RECORDS.effective_diff(BEST_CONTROL),
    log:
        RECORDS.log("controls", "best.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("best_control"),
        task=TASK_DIGEST,
    script:
        "../scripts/best_control.py"
