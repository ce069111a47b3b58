#!/usr/bin/env bash
# Mutation testing of one group of guarantee-carrying modules (see stryker.config.mjs):
#   npm run mutation -- log|processor|ledger|runner|traits|tokens|twins
# Prints Stryker's table; reports land in reports/mutation/. Takes minutes to an hour per group.
set -euo pipefail
cd "$(dirname "$0")/.."
group=${1:?usage: npm run mutation -- <group> (log, processor, ledger, runner, traits, tokens, twins)}
# Kafka cases skip: a closed port, and no INKSTREAM_REQUIRE_SERVICES.
KAFKA_BROKERS=127.0.0.1:1 INKSTREAM_REQUIRE_SERVICES= INKSTREAM_MUTATION_GROUP=$group exec npx stryker run stryker.config.mjs
