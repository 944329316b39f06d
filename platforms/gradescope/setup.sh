#!/bin/sh
# Gradescope runs this once, as root, when it builds the autograder's image
# (/autograder/source holds the zip's contents). It installs what the kit needs
# and builds the grader, so that each submission is only graded.
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends make jq >/dev/null
cd "$(dirname "$0")/kit"
make deps all
