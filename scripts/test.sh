#!/usr/bin/env bash
# Every test: go vet, the Go tests with the race detector, then the shared acceptance suites
# (third-party clients against a freshly built binary) for the protocols that pass them.
set -euo pipefail
cd "$(dirname "$0")/.."

ACCEPTANCE_SUITES=(stomp mqttsn coap api)

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 15m ./...

if [[ ! -x ../shared/acceptance/run.sh ]]; then
    echo "== acceptance: SKIPPED (../shared/acceptance is absent: it lives beside the project in the workspace)"
    exit 0
fi
echo "== acceptance: ${ACCEPTANCE_SUITES[*]}"
bin=$(mktemp -d)/xgate
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/xgate
XGATE_BIN=$bin ../shared/acceptance/run.sh "${ACCEPTANCE_SUITES[@]}"
