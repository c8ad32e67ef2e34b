#!/usr/bin/env bash
# Sets up everything and runs the whole test suite: formatting, lints, unit and integration tests
# on SQLite and PostgreSQL, and the third-party peers (scim2-tester from PyPI).
#
# PostgreSQL: VESTIBULE_TEST_POSTGRES_URL if set; else the server at 127.0.0.1:5432; else, when
# none answers, Debian's postgresql is installed and a private cluster started on a free port.
# Tests never skip PostgreSQL: if it cannot be reached they fail.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# --- PostgreSQL -----------------------------------------------------------------------------
pg_answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
if [ -z "${VESTIBULE_TEST_POSTGRES_URL:-}" ]; then
  if pg_answers 127.0.0.1 5432; then
    export VESTIBULE_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
  else
    source scripts/private-postgres.sh
  fi
fi
echo "test: PostgreSQL at ${VESTIBULE_TEST_POSTGRES_URL}"

# --- Python peers -----------------------------------------------------------------------------
venv=target/peers-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/peers/requirements.txt
export VESTIBULE_PEERS_PYTHON="$PWD/$venv/bin/python"

# --- OpenID Connect peers (tests/oidc_peers.rs): openid-client and playwright-core from npm,
# driving Debian's Chromium (playwright never downloads a browser here) ----------------------
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
peer_packages=()
[ -x /usr/bin/chromium ] || peer_packages+=(chromium)
command -v node >/dev/null 2>&1 || peer_packages+=(nodejs npm)
if [ ${#peer_packages[@]} -gt 0 ]; then
  echo "test: installing ${peer_packages[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${peer_packages[@]}" >/dev/null
fi
(cd tests/peers/oidc && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/peers/entra && npm ci --no-audit --no-fund --loglevel=error)

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
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
