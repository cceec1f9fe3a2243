#!/usr/bin/env bash
# From a fresh Debian 12 machine to a story: installs the packages ember needs (apt-get),
# builds build/bin/ember in Release mode, and runs it on the bundled model.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_TESTS=OFF
cmake --build build --parallel "$(nproc)"

echo
echo "== build/bin/ember run -m models/stories260K.gguf -p \"Once upon a time\" -n 200 --temp 0"
./build/bin/ember run -m models/stories260K.gguf -p "Once upon a time" -n 200 --temp 0
