rule score:
    input:
        run=rules.simulate.output.run,
        tree=rules.validate.output.tree,
        split=split_of("search_val"),
        reference=REFERENCE_RUN,
    output:
        score=RECORDS.score_record("{phase}", "{candidate}", "{seed}"),
    log:
        RECORDS.log("score", "{phase}", "{candidate}", "seed{seed}.log"),
    benchmark:
        RECORDS.benchmark("score", "{phase}", "{candidate}", "seed{seed}.tsv")
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("score"),
        task=TASK_DIGEST,
    script:
        "../scripts/score.py"


rule heldout:
    input:
        run=RECORDS.run_record("repeat", "{candidate}", "{seed}"),
        tree=rules.validate.output.tree,
        split=split_of("heldout", phase="repeat"),
        reference=REFERENCE_RUN,
    output:
        score=RECORDS.heldout_record("{candidate}", "{seed}"),
    log:
        RECORDS.log("heldout", "{candidate}", "seed{seed}.log"),
    benchmark:
        RECORDS.benchmark("heldout", "{candidate}", "seed{seed}.tsv")
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("score"),
        task=TASK_DIGEST,
    script:
        "../scripts/score.py"
