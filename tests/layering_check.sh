#!/usr/bin/env bash
# The layers point one way: tools -> engine -> formats -> kernels -> platform (and engine ->
# kernels, platform). A file may include its own layer and the layers below it, never one above:
#   platform/ platform/ (what differs between operating systems)
#   kernels/  kernels/ platform/
#   formats/  formats/ kernels/ platform/
#   engine/   engine/ formats/ kernels/ platform/ (and the public headers in include/)
#   include/  nothing of the project (ember.h and ember.hpp stand alone)
# Prints each include that breaks the rule and fails; run on the source tree by CTest.
#   tests/layering_check.sh [ROOT]
#   tests/layering_check.sh --self-test   a kernel file that includes an engine header must fail
set -euo pipefail
if [ "${1:-}" = --self-test ]; then
    tree=$(mktemp -d)
    trap 'rm -rf "$tree"' EXIT
    mkdir -p "$tree/kernels"
    printf '#include "kernels/blocks.h"\n#include "engine/model/context.h"\n' > "$tree/kernels/bad.cpp"
    if "$0" "$tree" >/dev/null; then
        echo "layering: the self-test's violation was not caught"
        exit 1
    fi
    echo "layering: the self-test's violation was caught"
    exit 0
fi
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
status=0
check() {  # folder, allowed prefixes (regex alternation)
    local folder=$1 allowed=$2
    [ -d "$root/$folder" ] || return 0
    while IFS= read -r line; do
        file=${line%%:*}
        header=$(sed -E 's/.*#include "([^"]+)".*/\1/' <<<"${line#*:}")
        if [[ $header == */* ]] && ! [[ $header =~ ^($allowed)/ ]]; then
            echo "layering: ${file#"$root"/} includes $header (a layer above $folder)"
            status=1
        fi
    done < <(grep -rHE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$root/$folder" \
        --include='*.h' --include='*.hpp' --include='*.cpp' --include='*.inl' || true)
}
check platform 'platform'
check kernels 'kernels|platform'
check formats 'formats|kernels|platform'
check engine 'engine|formats|kernels|platform'
check include 'NONE'
[ $status -eq 0 ] && echo "layering: every include points down"
exit $status
