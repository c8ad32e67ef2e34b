#!/usr/bin/env bash
# Sets up everything and runs the whole test suite: formatting, lints, unit and integration tests
# on SQLite and PostgreSQL, and the third-party peers (scim2-tester from PyPI).
#
# PostgreSQL: VESTIBULE_TEST_POSTGRES_URL if set (it must connect); else the server at
# 127.0.0.1:5432 if user postgres connects without a password; else Debian's postgresql is installed
# when missing and a private cluster started on a free port. Tests never skip PostgreSQL: if it
# cannot be reached they fail. The suite runs with cargo-nextest when installed, else cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"

# changed_since_stamp FILE STAMP: true when FILE's content (with this script's pins) differs from the
# hash STAMP recorded after the last successful install; record_stamp FILE STAMP records it.
changed_since_stamp() { [ "$(cat "$2" 2>/dev/null)" != "$(sha256sum "$1" | cut -d' ' -f1)" ]; }
record_stamp() { sha256sum "$1" | cut -d' ' -f1 >"$2"; }

# --- PostgreSQL -----------------------------------------------------------------------------
# A server is used only if the URL really connects: a stock Debian cluster at 5432 answers but wants
# a password over TCP (also the one Debian's package starts after private-postgres.sh installed it).
pg_connects() { PGCONNECT_TIMEOUT=5 psql -w -XAtq -c 'select 1' "$1" >/dev/null 2>&1 </dev/null; }
if ! command -v psql >/dev/null 2>&1; then
  echo "test: installing postgresql-client"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq postgresql-client >/dev/null
fi
if [ -n "${VESTIBULE_TEST_POSTGRES_URL:-}" ]; then
  if ! pg_connects "$VESTIBULE_TEST_POSTGRES_URL"; then
    echo "test: VESTIBULE_TEST_POSTGRES_URL=$VESTIBULE_TEST_POSTGRES_URL does not connect" >&2
    exit 1
  fi
elif pg_connects "postgres://postgres@127.0.0.1:5432/postgres"; then
  export VESTIBULE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
else
  source scripts/private-postgres.sh
fi
echo "test: PostgreSQL at ${VESTIBULE_TEST_POSTGRES_URL}"

# --- Python peers: the direct ones in requirements.txt, every transitive version pinned in
# constraints.txt; installed again only when either file changed -----------------------------
venv=target/peers-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
cat tests/peers/requirements.txt tests/peers/constraints.txt >"$venv/.wanted"
if changed_since_stamp "$venv/.wanted" "$venv/.installed"; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -r tests/peers/requirements.txt -c tests/peers/constraints.txt
  record_stamp "$venv/.wanted" "$venv/.installed"
fi
export VESTIBULE_PEERS_PYTHON="$PWD/$venv/bin/python"

# --- OpenID Connect peers (tests/oidc_peers.rs, the Entra peer): openid-client, playwright-core
# and oidc-provider from npm, run by a pinned Node (scripts/node.sh), driving Debian's Chromium
# (playwright never downloads a browser here); `npm ci` only when a lock file changed --------------
if [ ! -x /usr/bin/chromium ]; then
  echo "test: installing chromium"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
source scripts/node.sh
for peer in tests/peers/oidc tests/peers/entra; do
  if changed_since_stamp "$peer/package-lock.json" "$peer/node_modules/.installed-lock"; then
    (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error)
    record_stamp "$peer/package-lock.json" "$peer/node_modules/.installed-lock"
  fi
done

# --- SAML 2.0 IdP peer (tests/suite/common/saml_peer.rs): SimpleSAMLphp 1.19.7 from Debian, run by
# PHP's built-in server (no Apache: micro-httpd and netcat-traditional only satisfy the package's
# web-server dependency and start nothing); xmlsec1 checks its signatures and encryption ------------
saml_packages=()
for package in simplesamlphp php-cli php-xml php-mbstring php-cgi micro-httpd netcat-traditional xmlsec1; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || saml_packages+=("$package")
done
if [ ${#saml_packages[@]} -gt 0 ]; then
  echo "test: installing ${saml_packages[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
    "${saml_packages[@]}" >/dev/null
fi

# --- Rust -------------------------------------------------------------------------------------
missing_components=()
cargo fmt --version >/dev/null 2>&1 || missing_components+=(rustfmt)
cargo clippy --version >/dev/null 2>&1 || missing_components+=(clippy)
if [ ${#missing_components[@]} -gt 0 ]; then
  if ! command -v rustup >/dev/null 2>&1; then
    echo "test: cargo has no ${missing_components[*]} and there is no rustup to add them" >&2
    exit 1
  fi
  rustup component add "${missing_components[@]}"
fi
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
