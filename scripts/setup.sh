#!/usr/bin/env bash
# Installs what building Vestibule needs on Debian, when missing: the C libraries its crates link
# (SQLite, libpq, OpenSSL, libxml2/xmlsec for SAML), clang for bindgen, Python for the test peers.
set -euo pipefail

packages=(build-essential pkg-config libssl-dev libsqlite3-dev libpq-dev python3 python3-venv curl)
# samael (SAML) binds libxml2 and xmlsec through bindgen: its C libraries and clang only while it is
# a dependency.
if grep -q '^name = "samael"$' "$(dirname "${BASH_SOURCE[0]}")/../Cargo.lock"; then
  packages+=(libxml2-dev libxmlsec1-dev libxslt1-dev libclang-dev xmlsec1)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: Rust is missing. Install a current toolchain (rustup: https://rustup.rs, Rust >= 1.85)." >&2
  exit 1
fi
