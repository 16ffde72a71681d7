#!/usr/bin/env bash
# Runs tests/node/sdk_compat_test.mjs against the kiln_llmsim built here.
set -euo pipefail
exec node --test-reporter=spec tests/node/sdk_compat_test.mjs "$(pwd)/llm/sim/kiln_llmsim"
