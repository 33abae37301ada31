rule simulate:
    input:
        validation="results/candidates/{candidate}/validation.json",
        tree="results/candidates/{candidate}/src",
        train="results/task/train",
        reference=compute_reference_run,
        lib=lib(
            "runner",
            "process",
            "slots",
            "sandbox",
            "containment",
            "contained",
            "isolation",
            "site_data",
            "aggregation_audit",
            "box_init",
            "compute",
            "resource_caps",
        ),
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
        work=lambda w: f"results/work/{w.phase}/{w.candidate}/seed{w.seed}",
    script:
        "../scripts/simulate.py"
