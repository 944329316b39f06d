#!/bin/sh
# package.sh OUTDIR - Autolab's two files: OUTDIR/autograde-Makefile and
# OUTDIR/autograde.tar (the kit in kit/, hidden tests included, never
# solutions).
set -eu
out=$1
stage=$(mktemp -d "${TMPDIR:-/tmp}/kit-autolab.XXXXXX")
trap 'rm -rf "$stage"' EXIT
sh platforms/kit-tree.sh "$stage/kit" hidden
mkdir -p "$stage/kit/platforms/autolab" "$out"
cp platforms/autolab/grade.sh "$stage/kit/platforms/autolab/"
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner -cf "$out/autograde.tar" kit
cp platforms/autolab/autograde-Makefile "$out/autograde-Makefile"
echo "autolab: $out/autograde-Makefile and $out/autograde.tar"
