#!/bin/sh
# kit-tree.sh DEST [hidden] - copies into DEST what grading needs: README.md,
# Makefile, grader/, coach/, exercises/ and each exercise's manifest and public tests
# (with "hidden", the instructor's hidden tests too). Never solutions/,
# mutants or alternatives. Run from the kit's root.
set -eu
dest=$1 hidden=${2:-}
mkdir -p "$dest/tests"
cp README.md Makefile .gitignore "$dest/"
cp -R grader coach exercises "$dest/"
for m in tests/[0-9]*/exercise.json; do
    dir=$(dirname "$m")
    mkdir -p "$dest/$dir"
    cp "$m" "$dir"/test_*.c "$dest/$dir/"
    if [ -n "$hidden" ]; then
        for h in "$dir"/hidden_*.c; do
            if [ -e "$h" ]; then cp "$h" "$dest/$dir/"; fi
        done
    fi
done
