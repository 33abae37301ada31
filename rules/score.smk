rule score:
    input:
        run="results/runs/{phase}/{candidate}/seed{seed}/run.json",
        tree="results/candidates/{candidate}/src",
        split="results/task/search_val",
        reference=REFERENCE_RUN,
    output:
        score="results/runs/{phase}/{candidate}/seed{seed}/score.json",
    log:
        "results/logs/score/{phase}/{candidate}/seed{seed}.log",
    benchmark:
        "results/benchmarks/score/{phase}/{candidate}/seed{seed}.tsv"
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("score"),
        task=TASK_DIGEST,
    script:
        "../scripts/score.py"


rule heldout:
    input:
        run="results/runs/repeat/{candidate}/seed{seed}/run.json",
        tree="results/candidates/{candidate}/src",
        split="results/task/heldout",
        reference=REFERENCE_RUN,
    output:
        score="results/runs/repeat/{candidate}/seed{seed}/heldout.json",
    log:
        "results/logs/heldout/{candidate}/seed{seed}.log",
    benchmark:
        "results/benchmarks/heldout/{candidate}/seed{seed}.tsv"
    conda:
        "../envs/flcampaign.yaml"
    params:
        code=code("score"),
        task=TASK_DIGEST,
    script:
        "../scripts/score.py"
