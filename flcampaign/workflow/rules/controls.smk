rule control_candidate:
    output:
        record=RECORDS.validation("{control}"),
        tree=directory(RECORDS.tree("{control}")),
        diff=RECORDS.effective_diff("{control}"),
    log:
        RECORDS.log("controls", "{control}.log"),
    wildcard_constraints:
        control=r"_(ctl|tpe)-\d+",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("control_candidate"),
        task=TASK_DIGEST,
        args=control_args,
    script:
        "../scripts/control_candidate.py"


checkpoint tpe_controls:
    input:
        unpack(tpe_inputs),
    output:
        state=RECORDS.tpe_step("{chain}", "{step}"),
    log:
        RECORDS.log("tpe", "{chain}", "step{step}.log"),
    wildcard_constraints:
        chain=r"[0-9a-f]{12}",
        step=r"\d+",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("tpe_controls"),
        task=TASK_DIGEST,
        controls=config["controls"],
        search_seed=SEARCH_SEED,
        start=chain_start(tpe_chain),
    script:
        "../scripts/tpe_controls.py"


rule best_control:
    input:
        unpack(tpe_record),
        scores=control_scores,
    output:
        arms=RECORDS.control_arms,
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
        search_seed=SEARCH_SEED,
        controls=config["controls"],
    script:
        "../scripts/best_control.py"
