#!/usr/bin/env bash
# Container entrypoint: check the L4T release, build this device's TensorRT engines when missing, then
# `serve` (the default) or `reindex` (re-encode the gallery after a model upgrade) with that bundle.
# Each decision is made by the deploy package (python -m deploy ...); this script only runs the steps.
# Any other command runs as given, e.g. `docker compose run --rm person-search person-search --help`.
set -euo pipefail

mode="${1:-serve}"
if [[ "$mode" != "serve" && "$mode" != "reindex" ]]; then
    exec "$@"
fi
if [[ $# -gt 0 ]]; then
    shift  # what follows goes to person-search serve / reindex
fi

say() { echo "[entrypoint] $*" >&2; }

bundle="${PERSON_SEARCH_MODEL__BUNDLE:?set PERSON_SEARCH_MODEL__BUNDLE to the model bundle directory}"
backend="${PERSON_SEARCH_MODEL__BACKEND:-auto}"
precision="${PERSON_SEARCH_MODEL__PRECISION:-fp32}"
text_batch="${PERSON_SEARCH_BATCHING__TEXT__MAX_BATCH:-32}"
image_batch="${PERSON_SEARCH_BATCHING__IMAGE__MAX_BATCH:-16}"

# 1. The host's L4T release must match the image's (skipped on images not built for Jetson).
python -m deploy check-l4t --image "${DEPLOY_IMAGE_L4T:-}" --policy "${DEPLOY_L4T_CHECK:-strict}" \
    --host-file "${DEPLOY_HOST_TEGRA_RELEASE:-/host/etc/nv_tegra_release}" --host-file /etc/nv_tegra_release

# 2. The bundle to serve: the mounted one, with engines/ on the engines volume when there is one.
bundle_args=(--bundle "$bundle" --workdir "${DEPLOY_WORKDIR:-/tmp/person-search}")
if [[ -n "${DEPLOY_ENGINES_DIR:-}" ]]; then
    bundle_args+=(--engines-root "$DEPLOY_ENGINES_DIR")
fi
serve_bundle="$(python -m deploy bundle "${bundle_args[@]}")"

# 3. TensorRT engines for this GPU, one batch limit per tower: built on first start, rebuilt when their
#    key changes. A failed build is recorded on the engines volume and retried after a growing wait.
engine_args=(--bundle "$serve_bundle" --backend "$backend" --precision "$precision"
    --text-max-batch "$text_batch" --image-max-batch "$image_batch")
retry_args=(--retry-s "${DEPLOY_BUILD_RETRY_S:-60}" --retry-max-s "${DEPLOY_BUILD_RETRY_MAX_S:-3600}")
build_args=(--precision "$precision" --text-max-batch "$text_batch" --image-max-batch "$image_batch"
    --workspace-mb "${DEPLOY_WORKSPACE_MB:-1024}")
if [[ -n "${DEPLOY_CALIBRATION_DIR:-}" ]]; then
    build_args+=(--calibration-dir "$DEPLOY_CALIBRATION_DIR")  # INT8: a folder of gallery crops
fi
action="$(python -m deploy engines "${engine_args[@]}")"
while [[ "$action" == "build" ]]; do
    python -m deploy build-wait "${engine_args[@]}" "${retry_args[@]}"
    say "building TensorRT engines ($precision, text batch 1..$text_batch, image batch 1..$image_batch);" \
        "minutes on first start, cached afterwards"
    status=0
    person-search build-engine "$serve_bundle" "${build_args[@]}" || status=$?
    if [[ $status -ne 0 ]]; then
        python -m deploy build-failed --status "$status" "${engine_args[@]}" "${retry_args[@]}"
    fi
    action="$(python -m deploy engines "${engine_args[@]}")"
    if [[ $status -eq 0 && "$action" != "serve" ]]; then
        say "build-engine finished but the engines are still missing; not serving"
        exit 3
    fi
done

# 4. The FAISS GPU copy of the index: decided from the module's memory unless set explicitly.
if [[ -z "${PERSON_SEARCH_INDEX__USE_GPU:-}" ]]; then
    PERSON_SEARCH_INDEX__USE_GPU="$(python -m deploy faiss-gpu --mode "${DEPLOY_FAISS_GPU:-auto}" \
        --image "${DEPLOY_IMAGE_L4T:-}")"
    export PERSON_SEARCH_INDEX__USE_GPU
fi

# 5. Serve (settings come from PERSON_SEARCH_* in the environment), or re-encode the gallery.
export PERSON_SEARCH_MODEL__BUNDLE="$serve_bundle"
if [[ "$mode" == "reindex" ]]; then
    data_dir="${PERSON_SEARCH_INDEX__DATA_DIR:?set PERSON_SEARCH_INDEX__DATA_DIR to the gallery directory}"
    say "re-encoding the gallery in $data_dir with $serve_bundle ($backend, $precision)"
    exec person-search reindex --model "$serve_bundle" --data "$data_dir" --backend "$backend" \
        --precision "$precision" "$@"
fi
say "serving $serve_bundle with backend $backend"
exec person-search serve "$@"
