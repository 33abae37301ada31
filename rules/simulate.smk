rule simulate:
    input:
        validation="results/candidates/{candidate}/validation.json",
        tree="results/candidates/{candidate}/src",
        train="results/task/train",
        reference=compute_reference_run,
    output:
        run="results/runs/{phase}/{candidate}/seed{seed}/run.json",
    log:
        "results/logs/simulate/{phase}/{candidate}/seed{seed}.log",
    benchmark:
        "results/benchmarks/simulate/{phase}/{candidate}/seed{seed}.tsv"
    conda:
        "../envs/flcampaign.yaml"
    resources:
        gpu=1,
        runtime=lambda w: 5 + TASK.budget["timeout_seconds"] // 60,
    params:
        code=code("simulate"),
        task=TASK_DIGEST,
        work=lambda w: f"results/work/{w.phase}/{w.candidate}/seed{w.seed}",
    script:
        "../scripts/simulate.py"
