#!/bin/sh
# grade.sh DIR - grades the handin in DIR with the kit in DIR/kit and ends with
# Autolab's line: {"scores": {"ID": points, ...}, "scoreboard": [total]}.
set -u
dir=$(cd "$1" && pwd)
kit=$dir/kit
sub=$(mktemp -d "${TMPDIR:-/tmp}/kit-handin.XXXXXX")
trap 'rm -rf "$sub" "$sub.in" "$sub.scratch"' EXIT
mkdir -p "$sub.in"
for h in "$dir"/handin*; do
    [ -f "$h" ] || continue
    case $h in
    *.tar|*.tar.gz|*.tgz|*.zip) bsdtar -xf "$h" -C "$sub.in" --no-same-owner 2>/dev/null ||
                                 echo "the handin $(basename "$h") could not be unpacked" ;;
    *) cp "$h" "$sub.in/" ;;
    esac
done
for m in "$kit"/tests/[0-9]*/exercise.json; do
    id=$(basename "$(dirname "$m")")
    name=$(jq -r .student_file "$m")
    from=$(find "$sub.in" -type f -name "$name" 2>/dev/null | sort | head -1)
    [ -n "$from" ] || continue
    mkdir -p "$sub/$id"
    cp "$from" "$sub/$id/$name"
done
cd "$kit" || exit 1
make -s deps all >/dev/null 2>&1 || echo "the grader could not be built"
build/grader --kit . --submission "$sub" --results "$sub/results.json" --scratch "$sub.scratch" \
    --color never
if [ -s "$sub/results.json" ]; then
    jq -c '{scores: (reduce .tests[] as $t ({}; .[$t.tags[0]] += $t.score)),
            scoreboard: [.score]}' "$sub/results.json"
else
    jq -nc '{scores: {}, scoreboard: [0]}'
fi
