checkpoint race:
    input:
        unpack(race_inputs),
    output:
        state=RECORDS.race_step("{step}"),
    log:
        RECORDS.log("race", "step{step}.log"),
    wildcard_constraints:
        step=r"\d+",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("race"),
        task=TASK_DIGEST,
        selection=config["selection"],
        search_seed=SEARCH_SEED,
    script:
        "../scripts/race.py"


checkpoint select_winners:
    input:
        tsv=rules.ledger.output.tsv,
        race=RECORDS.race_step(RACE.steps()),
    output:
        selection=RECORDS.selection,
        race=report(RECORDS.race_tsv, category="Selection", caption="captions/race.rst"),
    log:
        RECORDS.log("select_winners.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("select_winners"),
        task=TASK_DIGEST,
        top_k=config["selection"]["top_k"],
        n_controls=config["controls"]["n"],
        control_seed=config["controls"]["seed"],
        search_seed=SEARCH_SEED,
    script:
        "../scripts/select_winners.py"
