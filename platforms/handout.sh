#!/bin/sh
# handout.sh OUT.tar.gz - the student handout: what a student needs to work and
# grade, nothing an instructor keeps to themselves.
#
# In: README.md, Makefile, grader/ (sources), exercises/ (stubs, headers,
# READMEs), the public tests (tests/ID/exercise.json and test_*.c), and the
# GitHub Classroom workflow, and a copy of each stub in .stubs/. Out: solutions/, mutants, alternatives, hidden
# tests (tests/ID/hidden_*.c), the kit's own tests, batch/ and platforms/.
# The archive is the same, byte for byte, for the same files.
set -eu
out=$1
top=c-concurrency-kit
stage=$(mktemp -d "${TMPDIR:-/tmp}/kit-handout.XXXXXX")
trap 'rm -rf "$stage"' EXIT
sh platforms/kit-tree.sh "$stage/$top"
# The stubs as shipped, for make reset and make list (coach/stub.h).
for m in tests/[0-9]*/exercise.json; do
    id=$(basename "$(dirname "$m")")
    name=$(jq -r .student_file "$m")
    mkdir -p "$stage/$top/.stubs/$id"
    cp "exercises/$id/$name" "$stage/$top/.stubs/$id/"
done
mkdir -p "$stage/$top/.github/workflows"
sh platforms/classroom/workflow.sh >"$stage/$top/.github/workflows/classroom.yml"
mkdir -p "$(dirname "$out")"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
    --mode='u+rwX,go+rX,go-w' -cf - "$top" | gzip -n -9 >"$out.tmp"
mv "$out.tmp" "$out"
echo "handout: $out ($(ls -d "$stage/$top"/tests/*/ | wc -l) exercises)"
