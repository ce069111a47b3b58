#!/usr/bin/env bash
# Copies the dependencies a pom.xml names from Maven Central into DIR/libs (mvn's output in
# DIR/fetch.log). Does nothing when DIR/libs already matches the pom: the marker DIR/libs/.fetched
# holds the pom's checksum, so a version change in the pom fetches again. Only a complete copy is
# ever named libs. Used by scripts/services.sh (Kafka) and scripts/segment-java/fetch.sh.
#
#   bash scripts/maven-fetch.sh POM DIR
set -euo pipefail
[ $# -eq 2 ] || {
  echo "usage: bash scripts/maven-fetch.sh POM DIR" >&2
  exit 2
}
POM=$1
mkdir -p "$2"
DIR=$(cd "$2" && pwd)
LIBS=$DIR/libs
sum=$(sha256sum "$POM" | cut -d' ' -f1)
if [ -f "$LIBS/.fetched" ] && [ "$(cat "$LIBS/.fetched")" = "$sum" ]; then exit 0; fi
command -v mvn >/dev/null || {
  echo "maven-fetch: mvn is not installed; it fetches the dependencies of $POM from Maven Central" >&2
  exit 1
}
echo "maven-fetch: fetching the dependencies of $POM from Maven Central into $LIBS"
rm -rf "$LIBS" "$LIBS.tmp"
mvn -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies -DoutputDir="$LIBS.tmp" \
  >"$DIR/fetch.log" 2>&1 || {
  tail -n 40 "$DIR/fetch.log" >&2
  echo "maven-fetch: fetching failed (full output: $DIR/fetch.log)" >&2
  exit 1
}
echo "$sum" >"$LIBS.tmp/.fetched"
mv "$LIBS.tmp" "$LIBS"
