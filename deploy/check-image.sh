#!/usr/bin/env bash
# Build the claimwatch image from deploy/Dockerfile and check, in containers of that image, what an
# operator relies on:
#   1. `claimwatch --version` and `claimwatch --help` answer as the `claimwatch` user;
#   2. the catalogue is /app/claims (CLAIMWATCH_HOME=/app), written by `claimwatch init` at build
#      time: `claims import` of a ClaimReview page writes an imported claim there and
#      `claims approve` makes it active, while the installed package's files stay as they were;
#   3. `claims approve` refuses a claim fact-checkers rated true (exit 2, file unchanged);
#   4. `claimwatch run --local` on the bundled demo writes the Parquet dataset.
#
# Usage: bash deploy/check-image.sh            (from anywhere; needs a running Docker engine)
#   IMAGE=claimwatch:check                     the tag to build (default)
#   DOCKER_BUILD_ARGS="--network host"         extra `docker build` options
#   DOCKER_RUN_ARGS="--network none"           extra `docker run` options (default: no network)
# Exit status: 0 when every check holds, 1 when one fails (the failing step is printed), 2 when
# Docker is not usable.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-claimwatch:check}
RUN_ARGS=${DOCKER_RUN_ARGS:---network none}

if ! docker info >/dev/null 2>&1; then
    echo "check-image: no Docker engine answers (docker info failed); start one, or set DOCKER_HOST" >&2
    exit 2
fi

step() { printf '\n== %s\n' "$*"; }
fail() { echo "check-image: FAILED: $*" >&2; exit 1; }

step "docker build -f deploy/Dockerfile -t $IMAGE ."
# shellcheck disable=SC2086
docker build ${DOCKER_BUILD_ARGS:-} -f deploy/Dockerfile -t "$IMAGE" . || fail "the image does not build"

false_page=tests/connectors/fixtures/claimreview/single.html
true_page=tests/flows/fixtures/claimreview_rated_true.html
for f in "$false_page" "$true_page"; do
    [ -f "$f" ] || fail "missing $f (run this script from a claimwatch checkout)"
done

step "claims import, approve and refuse inside the image (user claimwatch, CLAIMWATCH_HOME=/app)"
# shellcheck disable=SC2086
docker run --rm $RUN_ARGS \
    -v "$PWD/$false_page:/check/false.html:ro" \
    -v "$PWD/$true_page:/check/true.html:ro" \
    "$IMAGE" sh -euc '
        whoami
        claimwatch --version
        claimwatch --help >/dev/null
        pkg=$(cd / && python -c "import flows.home as h; print(h.SHIPPED_CLAIMS_DIR)")
        case "$pkg" in /opt/claimwatch/*) ;; *) echo "claimwatch is not the installed package: $pkg"; exit 1;; esac
        echo "installed catalogue: $pkg"
        before=$(find "$pkg" -type f -exec sha256sum {} + | sort)
        claimwatch claims import /check/false.html
        file=$(ls /app/claims/imported/cr-*.yaml | head -1)
        id=$(basename "$file" .yaml)
        grep -q "^status: imported" "$file"
        claimwatch claims approve "$id"
        grep -q "^status: active" "$file" || { echo "approve did not make $id active"; exit 1; }
        claimwatch claims show "$id" | head -5
        claimwatch claims import /check/true.html
        tfile=$(ls /app/claims/imported/cr-*.yaml | grep -v "/$id.yaml\$" | head -1)
        [ -n "$tfile" ] || { echo "the page rated true was not imported"; exit 1; }
        tid=$(basename "$tfile" .yaml)
        rc=0; claimwatch claims approve "$tid" 2>/tmp/err || rc=$?
        cat /tmp/err
        [ "$rc" = 2 ] || { echo "approve of a claim rated true exited $rc, expected 2"; exit 1; }
        grep -q "^status: imported" "$tfile" || { echo "the refused claim changed"; exit 1; }
        after=$(find "$pkg" -type f -exec sha256sum {} + | sort)
        [ "$before" = "$after" ] || { echo "files inside the installed package changed"; exit 1; }
        echo "ok: $id approved in /app/claims; the installed package is unchanged"
    ' || fail "claims import/approve in the image"

step "claimwatch run --local on the bundled demo inside the image"
# shellcheck disable=SC2086
docker run --rm $RUN_ARGS "$IMAGE" sh -euc '
        cd /tmp
        claimwatch run --local --data-dir /tmp/cw-data
        python -c "
import polars as pl
m = pl.read_parquet(\"/tmp/cw-data/matches/**/*.parquet\")
print(m.group_by(\"label\").len().sort(\"label\"))
assert m.filter(pl.col(\"label\") == \"likely_misinformation\").height > 0, \"no flag on the demo\"
"
    ' || fail "the demo run in the image"

printf '\ncheck-image: every check holds for %s\n' "$IMAGE"
