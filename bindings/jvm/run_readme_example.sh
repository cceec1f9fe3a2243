#!/usr/bin/env bash
# Runs the Java example of bindings/jvm/README.md (java's single-file launch, against the built
# ember.jar and libember_jni.so) from the repository root; its first line must be the story
# `ember run` prints for the same prompt and length.
#   run_readme_example.sh JAVA EMBER_JAR LIBEMBER_JNI EMBER_BIN
set -euo pipefail
java=$1 jar=$2 jni=$3 ember=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -n '/^```java$/,/^```$/p' bindings/jvm/README.md | sed '1d;$d' > "$work/Example.java"
lines=$(wc -l < "$work/Example.java")
[ "$lines" -le 10 ] || { echo "the README's example has $lines lines (10 at most)"; exit 1; }
out=$("$java" -DEMBER_JNI_LIBRARY="$jni" -cp "$jar" "$work/Example.java")
want=$("$ember" run -m models/stories260K.gguf -p "Once upon a time" -n 20 --temp 0 2>/dev/null)
[ "$(printf '%s\n' "$out" | head -1)" = "$want" ] ||
    { printf 'the example printed:\n%s\nember run:\n%s\n' "$out" "$want"; exit 1; }
echo "the README's Java example printed ember run's story, then: $(printf '%s\n' "$out" | sed -n 2p)"
