#!/usr/bin/env bash
# Mutation testing of one group of guarantee-carrying modules (see stryker.config.mjs):
#   npm run mutation -- log|processor|ledger|runner|traits|tokens
# Prints Stryker's table; reports land in reports/mutation/. Takes minutes to an hour per group.
set -euo pipefail
cd "$(dirname "$0")/.."
group=${1:?usage: npm run mutation -- <group> (log, processor, ledger, runner, traits, tokens)}
INKSTREAM_MUTATION_GROUP=$group exec npx stryker run stryker.config.mjs
