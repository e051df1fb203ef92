#!/usr/bin/env bash
# Runs every test of kappac: formatting, lints, unit, snapshot, CLI and stdlib tests.
# Needs only what this machine kind ships (cargo with rustfmt and clippy, python3); installs
# python3 and redis-server with apt-get if they are missing, and the pinned Python packages of
# scripts/test-requirements.txt in a venv (target/test-venv).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v python3 >/dev/null 2>&1; then
    echo "python3 not found: installing it with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq python3 >/dev/null
fi
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        rustup component add "$component"
    fi
done

# The cluster tests (tests/cluster.rs) start their own redis-server (Debian package) and run the
# coordinator with the pinned packages of scripts/test-requirements.txt, in a venv made here.
if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-server not found: installing it with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
fi
venv=target/test-venv
if ! cmp -s scripts/test-requirements.txt "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/test-requirements.txt
    cp scripts/test-requirements.txt "$venv/requirements.txt"
fi
export KAPPAC_TEST_PYTHON="$PWD/$venv/bin/python"

cargo fmt --check
cargo clippy --locked --all-targets -- -D warnings
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
# --no-fail-fast: every test binary runs even when an earlier one fails.
cargo test --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
