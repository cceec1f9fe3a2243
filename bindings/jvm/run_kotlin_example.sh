#!/usr/bin/env bash
# Runs the Kotlin example (bindings/jvm/examples/Story.kt, compiled by the build) from the
# repository root: its story must be ember run's, and it must name the sentence nearest to its
# question (which one is the tiny model's affair).
#   run_kotlin_example.sh JAVA EMBER_JAR STORY_JAR LIBEMBER_JNI EMBER_BIN
set -euo pipefail
java=$1 jar=$2 story=$3 jni=$4 ember=$5
out=$("$java" -DEMBER_JNI_LIBRARY="$jni" -cp "$story:$jar" StoryKt)
want=$("$ember" run -m models/stories260K.gguf -p "Once upon a time" -n 20 --temp 0 2>/dev/null)
printf '%s\n' "$out"
[ "$(printf '%s\n' "$out" | head -1)" = "$want" ] || { echo "the story is not ember run's"; exit 1; }
printf '%s\n' "$out" | grep -q '^nearest: ' || { echo "no nearest sentence"; exit 1; }
