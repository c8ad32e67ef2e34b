#!/usr/bin/env bash
# Sets up, builds and runs Vestibule on its embedded SQLite default with examples/quickstart.toml.
# The SCIM token comes from SCIM_TOKEN (a demo value is used when it is unset).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export SCIM_TOKEN="${SCIM_TOKEN:-quickstart-scim-token}"
export DEMO_CLIENT_SECRET="${DEMO_CLIENT_SECRET:-demo-app-secret}"
export DEMO_USER_PASSWORD="${DEMO_USER_PASSWORD:-alice-password}"
cargo build --release --bin vestibule
echo "SCIM endpoint: http://127.0.0.1:8080/realms/quickstart/scim/v2  (Authorization: Bearer \$SCIM_TOKEN)"
exec ./target/release/vestibule serve --config examples/quickstart.toml
