#!/usr/bin/env bash
# Fetches Segment's Java library and its dependencies from Maven Central into
# .cache/segment-java/libs for test/ingest/segment-java.test.ts (about 2 MB; a few seconds when
# ~/.m2 is warm). Does nothing when the libs match pom.xml already. .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash scripts/maven-fetch.sh scripts/segment-java/pom.xml .cache/segment-java
