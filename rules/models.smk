# The model steps: each configured model fetched once into the models folder
# (config models_dir), and NLLB converted for CTranslate2 once. The model jobs
# take their manifests as input and run offline.


localrules:
    download_model,
    models,


rule models:
    input:
        model_manifests(),


rule download_model:
    output:
        manifest=f"{MODELS}/{{kind}}/{{slug}}/manifest.json",
    log:
        results.log("download_model", "kind", "slug"),
    conda:
        "../envs/download_model.yaml"
    params:
        model=configured_model,
    script:
        "../scripts/download_model.py"


rule convert_model:
    input:
        checkpoint=model_manifest("nllb"),
    output:
        manifest=f"{MODELS}/ctranslate2/{{slug}}/manifest.json",
    log:
        results.log("convert_model", "slug"),
    # On a cluster a try killed for memory is tried again with more (the
    # profile's mem_mb grows with the attempt).
    retries: 1
    conda:
        "../envs/convert_model.yaml"
    # A device change adds a conversion; those made already are kept, and the
    # translate jobs (whose input is ancient) rerun nothing.
    params:
        weights=conversions_needed(),
    script:
        "../scripts/convert_model.py"
