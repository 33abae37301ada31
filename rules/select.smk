checkpoint select_winners:
    input:
        tsv="results/results.tsv",
    output:
        selection="results/selection.json",
    log:
        "results/logs/select_winners.log",
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
