rule ledger:
    input:
        validations=expand(
            "results/candidates/{candidate}/validation.json", candidate=CANDIDATES
        ),
        runs=search_records("run.json"),
        scores=search_records("score.json"),
        literature=LITERATURE,
    output:
        tsv=report(
            "results/results.tsv",
            category="Ledger",
            caption="captions/ledger.rst",
        ),
        state="results/campaign_state.json",
    log:
        "results/logs/ledger.log",
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("ledger"),
        task=TASK_DIGEST,
        candidates=CANDIDATES,
        seed=SEARCH_SEED,
        min_delta=config["ledger"]["min_delta"],
        guard=config["guard"],
    script:
        "../scripts/ledger.py"
