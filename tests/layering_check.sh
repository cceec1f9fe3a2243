#!/usr/bin/env bash
# The layers point one way: tools -> engine -> formats -> kernels -> platform (and engine ->
# kernels, platform). A file may include its own layer and the layers below it, never one above:
#   platform/ platform/ (what differs between operating systems)
#   kernels/  kernels/ platform/
#   formats/  formats/ kernels/ platform/
#   engine/   engine/ formats/ kernels/ platform/ (and the public headers in include/)
#   include/  nothing of the project (ember.h and ember.hpp stand alone)
#   bindings/ only the C API, ember.h (the bindings go through the door apps use)
# and inside engine/, its rooms point one way too (a room may include itself and those listed):
#   runtime/  runtime/
#   text/     text/ runtime/
#   grammar/  grammar/ text/ runtime/
#   model/    model/ text/ runtime/
#   generate/ generate/ grammar/ model/ text/ runtime/
#   embed/    embed/ model/ text/ runtime/
#   api/      every room of engine/
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
    rm "$tree/kernels/bad.cpp"
    mkdir -p "$tree/engine/text"
    printf '#include "engine/text/utf8.h"\n#include "engine/model/context.h"\n' > "$tree/engine/text/bad.cpp"
    if "$0" "$tree" >/dev/null; then
        echo "layering: the self-test's violation inside engine/ was not caught"
        exit 1
    fi
    echo "layering: the self-test's violations were caught"
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
        --include='*.h' --include='*.hpp' --include='*.cpp' --include='*.inl' \
        --exclude-dir=node_modules || true)
}
check platform 'platform'
check bindings 'bindings'
check kernels 'kernels|platform'
check formats 'formats|kernels|platform'
check engine 'engine|formats|kernels|platform'
below='formats|kernels|platform'
check engine/runtime "engine/runtime|$below"
check engine/text "engine/text|engine/runtime|$below"
check engine/grammar "engine/grammar|engine/text|engine/runtime|$below"
check engine/model "engine/model|engine/text|engine/runtime|$below"
check engine/generate "engine/generate|engine/grammar|engine/model|engine/text|engine/runtime|$below"
check engine/embed "engine/embed|engine/model|engine/text|engine/runtime|$below"
check include 'NONE'
[ $status -eq 0 ] && echo "layering: every include points down"
exit $status
