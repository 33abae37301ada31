checkpoint select_winners:
    input:
        tsv=rules.ledger.output.tsv,
    output:
        selection=RECORDS.selection,
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
    script:
        "../scripts/select_winners.py"
