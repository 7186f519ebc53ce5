#!/usr/bin/env bash
# Every benchmark of the performance page, one after the other, into one folder: the "one run on a quiet
# machine" the page's tables come from. Each step's output goes to its own log, with the date and the load
# average (`uptime`) written before and after it, so a table can say when it was measured and how busy the
# machine was. Start it on an otherwise idle machine and do nothing heavy while it runs (about 3 hours on
# 2 cores; the 10,000-task latency data set needs ~10 million inodes and ~15 GB in the work folder while
# it exists, and is removed at the end unless KEEP=1).
#
#   bash benchmarks/quiet_run.sh OUT_DIR [STEP ...]
#
# Steps (all by default, in this order): parse1k parse10k parse30k latency1k latency10k transfers sftp
# extract copy copy20m gpg. A step that fails is reported and the next one runs; the exit status says
# whether all passed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="${1:?usage: bash benchmarks/quiet_run.sh OUT_DIR [STEP ...]}"
shift
mkdir -p "$out"
out="$(cd "$out" && pwd)"
steps=("$@")
if [ "${#steps[@]}" -eq 0 ]; then
    steps=(parse1k parse10k parse30k latency1k latency10k transfers sftp extract copy copy20m gpg)
fi
work="$out/work"
failed=()

bench() {  # bench NAME COMMAND...: run one step, its output and the load around it in OUT_DIR/NAME.log
    local name="$1"
    shift
    {
        echo "# $name: $*"
        echo "# start $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)"
    } >"$out/$name.log"
    if "$@" >>"$out/$name.log" 2>&1; then
        echo "# end $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/$name.log"
        echo "$name: ok"
    else
        echo "# FAILED $(date -u +%FT%TZ) load: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/$name.log"
        echo "$name: FAILED (see $out/$name.log)"
        failed+=("$name")
    fi
}

py=(uv run python)
for step in "${steps[@]}"; do
    case "$step" in
    parse1k) bench parse1k "${py[@]}" benchmarks/parse_cost.py --per-process --repeat 1 ;;
    parse10k) bench parse10k "${py[@]}" benchmarks/parse_cost.py --per-process --tasks 10000 --files 1000 \
        --projects 50 --plain-modules 100 --repeat 1 ;;
    parse30k) bench parse30k "${py[@]}" benchmarks/parse_cost.py --per-process --tasks 30000 --files 3000 \
        --projects 150 --plain-modules 300 --repeat 1 --cases plain sharded one ;;
    latency1k)
        rm -rf "$work/api1k"
        bench latency1k "${py[@]}" benchmarks/api_latency.py --keep --workdir "$work/api1k"
        bench ui1k "${py[@]}" benchmarks/ui_latency.py --reuse "$work/api1k"
        [ "${KEEP:-0}" = 1 ] || rm -rf "$work/api1k"
        ;;
    latency10k)
        rm -rf "$work/api10k"
        bench latency10k "${py[@]}" benchmarks/api_latency.py --tasks 10000 --keep --workdir "$work/api10k"
        bench ui10k "${py[@]}" benchmarks/ui_latency.py --tasks 10000 --reuse "$work/api10k"
        [ "${KEEP:-0}" = 1 ] || rm -rf "$work/api10k"
        ;;
    transfers) bench transfers "${py[@]}" benchmarks/transfers.py ;;
    sftp) bench sftp "${py[@]}" benchmarks/extract_and_deliver.py --sizes --maria-sizes \
        --only openssh sftp store get retrieve imports ;;
    extract) bench extract "${py[@]}" benchmarks/extract_and_deliver.py --sftp-mib 0 ;;
    copy) bench copy "${py[@]}" benchmarks/extract_and_deliver.py --sizes 2000000 --sftp-mib 0 --maria-sizes \
        --repeat 5 --only psql ours_pg copy_floor imports ;;
    copy20m) bench copy20m "${py[@]}" benchmarks/extract_and_deliver.py --sizes 200000 20000000 --sftp-mib 0 \
        --maria-sizes --repeat 5 --only psql ours_pg ours_odbc imports ;;
    gpg) bench gpg "${py[@]}" benchmarks/gpg_package.py ;;
    *)
        echo "unknown step: $step" >&2
        exit 2
        ;;
    esac
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
echo "all steps passed; logs in $out"
