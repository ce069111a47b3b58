#!/usr/bin/env bash
# Fetches Segment's Java library and its dependencies from Maven Central into
# .cache/segment-java/libs for test/ingest/segment-java.test.ts (about 2 MB; a few seconds when
# ~/.m2 is warm). Does nothing when the libs match pom.xml already. .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/../.."
POM=scripts/segment-java/pom.xml
HOME_DIR=.cache/segment-java
LIBS=$HOME_DIR/libs
sum=$(sha256sum "$POM" | cut -d' ' -f1)
if [ -f "$LIBS/.fetched" ] && [ "$(cat "$LIBS/.fetched")" = "$sum" ]; then exit 0; fi
command -v mvn >/dev/null || { echo "segment-java: mvn is not installed; it fetches the library from Maven Central" >&2; exit 1; }
echo "segment-java: fetching analytics-java from Maven Central into $LIBS"
rm -rf "$LIBS" "$LIBS.tmp"
mkdir -p "$HOME_DIR"
mvn -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DoutputDir="$(pwd)/$LIBS.tmp" \
  >"$HOME_DIR/fetch.log" 2>&1 || {
  tail -n 40 "$HOME_DIR/fetch.log" >&2
  echo "segment-java: fetching failed (full output: $HOME_DIR/fetch.log)" >&2
  exit 1
}
echo "$sum" >"$LIBS.tmp/.fetched"
mv "$LIBS.tmp" "$LIBS"
