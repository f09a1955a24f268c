#!/usr/bin/env bash
# The four services' OpenAPI documents, generated from their handlers
# (`jpki openapi SERVICE`, the same document `GET /openapi.json` serves),
# checked by an outside validator (openapi-spec-validator, PyPI): a
# document that does not validate as OpenAPI 3.1 fails the suite.
set -euo pipefail
cd "$(dirname "$0")/../.."
jpki=target/debug/jpki
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for service in jlis sei-tsm sp-tsm rssp; do
  "$jpki" openapi "$service" > "$out/$service.json"
  openapi-spec-validator "$out/$service.json"
  paths=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['paths']))" "$out/$service.json")
  [ "$paths" -ge 4 ] || { echo "$service: only $paths paths documented" >&2; exit 1; }
done
