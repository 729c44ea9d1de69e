#!/usr/bin/env bash
# The layering check (see the architecture picture in README.md): no import circle
# between files of different top-level modules of src/, and nothing under src/driver/
# importing a layer above it (runtime, time, task, blocking, op, io, net, fs), nor
# anything under src/sys/ importing from the crate at all. Run from
# anywhere inside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

circles=../shared/tools/import-circles
if [ -x "$circles" ]; then
    "$circles" src
else
    echo "import-circles: $circles not found (it ships in ../shared beside the checkout); circle check skipped"
fi

# Paths in code, not in comments: strip `//` comments first.
upward=$(grep -rnE 'crate::(runtime|time|task|blocking|op|io|net|fs)\b' src/driver \
    | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
if [ -n "$upward" ]; then
    echo "src/driver imports layers above it:"
    echo "$upward"
    exit 1
fi
echo "src/driver imports nothing above it"

# src/sys/ (platform calls) is the bottom layer: it imports nothing from the crate.
sys_imports=$(grep -rnE 'crate::' src/sys | grep -vE '^[^:]+:[0-9]+:\s*//' || true)
if [ -n "$sys_imports" ]; then
    echo "src/sys imports from the crate:"
    echo "$sys_imports"
    exit 1
fi
echo "src/sys imports nothing from the crate"
