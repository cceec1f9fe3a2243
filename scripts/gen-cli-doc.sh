#!/usr/bin/env bash
# docs/cli.md's option blocks from the program itself: each block between
# `<!-- help: COMMAND -->` and `<!-- /help -->` becomes `ember COMMAND --help` (`ember --help`
# for `help: ember`), and every command `ember --help` lists must have one.
#   scripts/gen-cli-doc.sh [EMBER]            rewrite docs/cli.md (default build/bin/ember)
#   scripts/gen-cli-doc.sh --check [EMBER]    fail, with a diff, if docs/cli.md differs
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
if [ "${1:-}" = "--check" ]; then check=true; shift; fi
ember=${1:-build/bin/ember}
doc=docs/cli.md
out=$(mktemp)
trap 'rm -f "$out"' EXIT

block=""
while IFS= read -r line; do
    if [ -n "$block" ]; then
        [ "$line" = "<!-- /help -->" ] || continue  # the old block's lines are dropped
        printf '```text\n'
        if [ "$block" = ember ]; then "$ember" --help; else "$ember" "$block" --help; fi
        printf '```\n%s\n' "$line"
        block=""
        continue
    fi
    printf '%s\n' "$line"
    if [[ $line =~ ^\<!--\ help:\ ([a-z]+)\ --\>$ ]]; then block=${BASH_REMATCH[1]}; fi
done < "$doc" > "$out"

missing=""
for command in $("$ember" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF { print $1 }'); do
    grep -qx "<!-- help: $command -->" "$doc" || missing+=" $command"
done
[ -z "$missing" ] || { echo "gen-cli-doc: docs/cli.md has no section for:$missing" >&2; exit 1; }

if $check; then
    if ! diff -u "$doc" "$out"; then
        echo "gen-cli-doc: docs/cli.md differs from $ember --help (scripts/gen-cli-doc.sh updates it)" >&2
        exit 1
    fi
    echo "gen-cli-doc: docs/cli.md matches $ember --help"
else
    cp "$out" "$doc"
fi
