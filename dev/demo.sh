#!/usr/bin/env bash
# One-command demo: a real Airflow 3 runs the example task `demo_sales_extract` (see dev/demo.py).
# Works on a fresh Debian 12 with python3.11 as root, from any directory. Options are passed to
# dev/demo.py: --once (exit after the run), --port N (default $DEMO_PORT or 8080).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

if ! command -v uv >/dev/null 2>&1; then
    echo "uv not found; installing it with pip ..."
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt-get update -qq && apt-get install -y -qq python3-pip
    fi
    # Debian 12 marks the system Python as externally managed (PEP 668); uv is a standalone binary.
    python3 -m pip install --quiet --break-system-packages uv 2>/dev/null || python3 -m pip install --quiet uv
    export PATH="$HOME/.local/bin:/usr/local/bin:$PATH"
    hash -r
fi

uv sync --frozen
exec uv run --frozen python -m dev.demo "$@"
