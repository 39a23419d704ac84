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
max_batch=$((text_batch > image_batch ? text_batch : image_batch))

# 1. The host's L4T release must match the image's (skipped on images not built for Jetson).
python -m deploy check-l4t --image "${DEPLOY_IMAGE_L4T:-}" --policy "${DEPLOY_L4T_CHECK:-strict}" \
    --host-file "${DEPLOY_HOST_TEGRA_RELEASE:-/host/etc/nv_tegra_release}" --host-file /etc/nv_tegra_release

# 2. The bundle to serve: the mounted one, with engines/ on the engines volume when there is one.
bundle_args=(--bundle "$bundle" --workdir "${DEPLOY_WORKDIR:-/tmp/person-search}")
if [[ -n "${DEPLOY_ENGINES_DIR:-}" ]]; then
    bundle_args+=(--engines-root "$DEPLOY_ENGINES_DIR")
fi
serve_bundle="$(python -m deploy bundle "${bundle_args[@]}")"

# 3. TensorRT engines for this GPU: built on first start, rebuilt when their key changes.
engine_args=(--bundle "$serve_bundle" --backend "$backend" --precision "$precision" --max-batch "$max_batch")
action="$(python -m deploy engines "${engine_args[@]}")"
if [[ "$action" == "build" ]]; then
    say "building TensorRT engines ($precision, batch 1..$max_batch); minutes on first start, cached afterwards"
    build_args=(--precision "$precision" --max-batch "$max_batch" --workspace-mb "${DEPLOY_WORKSPACE_MB:-1024}")
    if [[ -n "${DEPLOY_CALIBRATION_DIR:-}" ]]; then
        build_args+=(--calibration-dir "$DEPLOY_CALIBRATION_DIR")  # INT8: a folder of gallery crops
    fi
    person-search build-engine "$serve_bundle" "${build_args[@]}"
    action="$(python -m deploy engines "${engine_args[@]}")"
    if [[ "$action" != "serve" ]]; then
        say "build-engine finished but the engines are still missing; not serving"
        exit 3
    fi
fi

# 4. Serve (settings come from PERSON_SEARCH_* in the environment), or re-encode the gallery.
export PERSON_SEARCH_MODEL__BUNDLE="$serve_bundle"
if [[ "$mode" == "reindex" ]]; then
    data_dir="${PERSON_SEARCH_INDEX__DATA_DIR:?set PERSON_SEARCH_INDEX__DATA_DIR to the gallery directory}"
    say "re-encoding the gallery in $data_dir with $serve_bundle"
    exec person-search reindex --model "$serve_bundle" --data "$data_dir" --backend "$backend" "$@"
fi
say "serving $serve_bundle with backend $backend"
exec person-search serve "$@"
