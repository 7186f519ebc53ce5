#!/usr/bin/env bash
# One entry point for local runs and CI: system packages, uv, locked deps, lint, tests.
#
# Works on a fresh Debian 12 (run as root, or with sudo available) from any directory.
# Integration tests start their own sshd/PostgreSQL from these packages; they never skip when a
# package is missing, so this script installs them first. Extra args go to pytest:
#   dev/test.sh tests/integration -x
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

# openssh-server: sshd for SFTP/SSH tests; postgresql + odbc-postgresql + unixodbc: extract tests via
# psqlODBC; gnupg: encryption steps; sqlite3 + libsqliteodbc: SQLite/ODBC tests; samba: smbd for SMB tests;
# chromium: the browser the UI tests drive through Playwright (`playwright install` cannot download here);
# redis-server: the Celery broker of the multi-worker e2e test; mariadb-server + mariadb-client + odbc-mariadb: the
# second ODBC driver's extract tests and benchmark (a private mariadbd per run, no system service); curl +
# smbclient: the reference clients of benchmarks/transfers.py (FTP and SMB up- and downloads).
apt_packages=(openssh-server postgresql odbc-postgresql unixodbc gnupg sqlite3 libsqliteodbc samba chromium redis-server
              mariadb-server mariadb-client odbc-mariadb curl smbclient)
# nodejs + npm: build the pages' YAML editor bundle (ui/editor, checked below). Only when no npm is on PATH:
# a Node from elsewhere (e.g. NodeSource's nodejs, which bundles npm) conflicts with Debian's npm package.
if ! command -v npm >/dev/null 2>&1; then
    apt_packages+=(nodejs npm)
fi

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "dev/test.sh: need root (or sudo) to run: $*" >&2
        exit 1
    fi
}

# Fresh Debian has no pip; it is only needed to bootstrap uv.
if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1 \
    && ! python3 -m pip --version >/dev/null 2>&1; then
    apt_packages+=(python3-pip)
fi

missing=()
for pkg in "${apt_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "dev/test.sh: installing Debian packages: ${missing[*]}"
    as_root apt-get update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# sshd refuses to start without its privilege-separation dir; containers do not create /run/sshd.
as_root mkdir -p /run/sshd
as_root chmod 0755 /run/sshd

if command -v uv >/dev/null 2>&1; then
    uv=(uv)
else
    if ! python3 -m uv --version >/dev/null 2>&1; then
        echo "dev/test.sh: installing uv with pip"
        # Debian's system python is "externally managed" (PEP 668); python:3.11 images are not.
        python3 -m pip install uv || python3 -m pip install --break-system-packages uv
    fi
    # pip may put the uv binary in a directory that is not on PATH (e.g. ~/.local/bin).
    if command -v uv >/dev/null 2>&1; then uv=(uv); else uv=(python3 -m uv); fi
fi

"${uv[@]}" sync --frozen
# The pages' YAML editor (airflow_batchtasks/plugins/static/editor.js + editor.css) is built by esbuild from
# ui/editor and committed, so neither wheels nor users need Node. Rebuild it from the locked npm packages
# and fail if the committed files differ: an editor source change without a rebuild, a hand edit of the
# bundle or a build that is not reproducible is caught here.
(cd ui/editor && npm ci --no-audit --no-fund && npm run build)
git diff --exit-code -- airflow_batchtasks/plugins/static/editor.js airflow_batchtasks/plugins/static/editor.css
"${uv[@]}" run ruff check .
"${uv[@]}" run mkdocs build --strict --site-dir "$(mktemp -d)"
"${uv[@]}" run pytest -q "$@"
