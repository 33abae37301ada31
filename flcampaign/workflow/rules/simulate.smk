rule simulate:
    input:
        validation=rules.validate.output.record,
        tree=rules.validate.output.tree,
        train=split_of("train"),
        reference=compute_reference_run,
    output:
        run=RECORDS.run_record("{phase}", "{candidate}", "{seed}"),
    log:
        RECORDS.log("simulate", "{phase}", "{candidate}", "seed{seed}.log"),
    benchmark:
        RECORDS.benchmark("simulate", "{phase}", "{candidate}", "seed{seed}.tsv")
    conda:
        "../envs/flcampaign.yaml"
    resources:
        gpu=1,
        runtime=lambda w: 5 + TASK.budget["timeout_seconds"] // 60,
    params:
        code=code("simulate"),
        task=TASK_DIGEST,
        work=lambda w: RECORDS.work_dir(w.phase, w.candidate, w.seed),
        slots=RECORDS.slots,
    script:
        "../scripts/simulate.py"
