checkpoint select_winners:
    input:
        tsv="results/results.tsv",
        lib=lib("selection", "controls", "ledger"),
    output:
        selection="results/selection.json",
    log:
        "results/logs/select_winners.log",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        top_k=config["selection"]["top_k"],
        n_controls=config["controls"]["n"],
        control_seed=config["controls"]["seed"],
    script:
        "../scripts/select_winners.py"
