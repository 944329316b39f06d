#!/bin/sh
# workflow.sh - prints .github/workflows/classroom.yml for GitHub Classroom:
# on every push, one autograding step per exercise (`make grade EX=ID`, its
# points when the exercise is at full marks), then the reporter that sends
# the points to Classroom. Run from the kit's root.
set -eu
cat <<'HEAD'
name: Autograding
"on":
  - push
  - workflow_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  grade:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    steps:
      - name: Check out the code
        uses: actions/checkout@v4
      - name: Install what the grader needs
        run: make deps all
HEAD
runners=""
for m in tests/[0-9]*/exercise.json; do
    id=$(basename "$(dirname "$m")")
    step=ex$(echo "$id" | cut -c1-2)
    points=$(jq -r .points "$m")
    cat <<STEP
      - name: $id
        id: $step
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: $id
          command: make grade EX=$id
          timeout: 10
          max-score: ${points:-10}
STEP
    runners="${runners:+$runners,}$step"
done
cat <<TAIL
      - name: Report the points
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
TAIL
for r in $(echo "$runners" | tr ',' ' '); do
    printf '          %s_RESULTS: "${{ steps.%s.outputs.result }}"\n' "$(echo "$r" | tr a-z A-Z)" "$r"
done
cat <<TAIL
        with:
          runners: $runners
TAIL
