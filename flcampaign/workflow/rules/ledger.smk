rule ledger:
    input:
        validations=[RECORDS.validation(cid) for cid in CANDIDATES],
        runs=search_records("run"),
        scores=search_records("score"),
        literature=LITERATURE,
    output:
        tsv=report(RECORDS.ledger, category="Ledger", caption="captions/ledger.rst"),
        state=RECORDS.state,
    log:
        RECORDS.log("ledger.log"),
    localrule: True
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("ledger"),
        task=TASK_DIGEST,
        candidates=CANDIDATES,
        refused=REFUSED,
        seed=SEARCH_SEED,
        keep_margin=config["ledger"]["keep_margin"],
        guard=config["guard"],
        campaign=CAMPAIGN.root,
    script:
        "../scripts/ledger.py"
