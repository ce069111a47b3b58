#!/usr/bin/env bash
# Fetches the official AMP validator's engine (validator_wasm.js) for test/render/amp-email.test.ts
# into .cache/amp-validator/. npm's amphtml-validator downloads that file from cdn.ampproject.org at
# run time, which these machines cannot reach; the `next` package on the npm registry ships a copy
# (next/dist/compiled/amphtml-validator/validator_wasm.js, Apache-2.0), so it is taken from the
# package tarball (about 30 MB, a few seconds) and everything else is thrown away. Does nothing
# when the file is there already. .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/../.."
NEXT_VERSION=15.5.4
DIR=.cache/amp-validator
FILE="$DIR/validator_wasm.js"
STAMP="$DIR/from-next-$NEXT_VERSION"
if [ -s "$FILE" ] && [ -f "$STAMP" ]; then exit 0; fi
mkdir -p "$DIR"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TARBALL=$(npm pack "next@$NEXT_VERSION" --pack-destination "$TMP" --silent | tail -1)
tar -xzf "$TMP/$TARBALL" -C "$TMP" package/dist/compiled/amphtml-validator/validator_wasm.js
mv "$TMP/package/dist/compiled/amphtml-validator/validator_wasm.js" "$FILE"
rm -f "$DIR"/from-next-*
touch "$STAMP"
echo "amp-validator: $FILE from next@$NEXT_VERSION"
