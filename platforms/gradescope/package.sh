#!/bin/sh
# package.sh OUT.zip - Gradescope's autograder zip: setup.sh and run_autograder
# at its root, the kit (with any hidden tests, never solutions) in kit/.
set -eu
out=$1
stage=$(mktemp -d "${TMPDIR:-/tmp}/kit-gradescope.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp platforms/gradescope/setup.sh platforms/gradescope/run_autograder "$stage/"
sh platforms/kit-tree.sh "$stage/kit" hidden
mkdir -p "$(dirname "$out")"
rm -f "$out"
(cd "$stage" && bsdtar --format zip -cf - setup.sh run_autograder kit) >"$out.tmp"
mv "$out.tmp" "$out"
echo "gradescope: $out (upload it as the autograder of a programming assignment)"
