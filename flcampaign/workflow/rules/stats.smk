checkpoint add_seeds:
    input:
        unpack(added_seed_inputs),
    output:
        state=RECORDS.seeds_step("{chain}", "{step}"),
    log:
        RECORDS.log("add_seeds", "{chain}", "step{step}.log"),
    wildcard_constraints:
        chain=r"[0-9a-f]{12}",
        step=r"\d+",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("add_seeds"),
        task=TASK_DIGEST,
        repeat_seeds=REPEAT_SEEDS,
        adaptive=config["repeats"]["adaptive"],
        start=chain_start(seeds_chain),
    script:
        "../scripts/add_seeds.py"


rule winner_stats:
    input:
        unpack(repeat_records),
        unpack(control_arms_record),
        added=added_seeds_record,
        selection=rules.select_winners.output.selection,
    output:
        tsv=report(
            RECORDS.winners_tsv, category="Winners", caption="captions/winners.rst"
        ),
        evidence=RECORDS.winners_json,
    log:
        RECORDS.log("winner_stats.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("winner_stats"),
        task=TASK_DIGEST,
        repeat_seeds=REPEAT_SEEDS,
        search_seed=SEARCH_SEED,
        rerun_seed=RERUN_SEED,
    script:
        "../scripts/winner_stats.py"
