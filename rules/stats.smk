rule winner_stats:
    input:
        unpack(repeat_records),
        selection="results/selection.json",
    output:
        tsv=report(
            "results/winners.tsv",
            category="Winners",
            caption="captions/winners.rst",
        ),
        evidence="results/winners.json",
    log:
        "results/logs/winner_stats.log",
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
