#!/usr/bin/env bash
# Every test: the generated files checked against their sources, go vet, the Go tests with the
# race detector, the shared acceptance suites (third-party clients against a freshly built
# binary) for the protocols that pass them, then the dashboard's Playwright tests in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

ACCEPTANCE_SUITES=(stomp mqttsn coap api)
TEMPL=github.com/a-h/templ/cmd/templ@v0.3.1100

# The dashboard's templ output and npm assets are committed (so that building needs neither
# templ nor npm); regenerate them and fail if that changed anything.
echo "== generated files are up to date"
generated() { sha256sum views/*_templ.go static/lib/* | sort; }
before=$(generated)
go run "$TEMPL" generate -path views >/dev/null 2>&1 || go run "$TEMPL" generate -path views
if [[ -d node_modules/htmx.org ]]; then
    npm run --silent assets >/dev/null
else
    echo "   (node_modules absent: static/lib not checked; npm ci first)"
fi
if [[ "$(generated)" != "$before" ]]; then
    echo "views/*_templ.go or static/lib/ did not match their sources; they are regenerated now:"
    echo "review and commit them (make generate; npm run assets)"
    exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 -timeout 15m ./...

bin=$(mktemp -d)/xgate
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/xgate

if [[ -x ../shared/acceptance/run.sh ]]; then
    echo "== acceptance: ${ACCEPTANCE_SUITES[*]}"
    XGATE_BIN=$bin ../shared/acceptance/run.sh "${ACCEPTANCE_SUITES[@]}"
else
    echo "== acceptance: SKIPPED (../shared/acceptance is absent: it lives beside the project in the workspace)"
fi

chromium=${XGATE_CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
    echo "== e2e: SKIPPED ($chromium is absent: apt-get install chromium, as .ci/run does)"
    exit 0
fi
echo "== e2e: dashboard in Chromium (Playwright)"
[[ -d node_modules/@playwright/test ]] || npm ci
XGATE_BIN=$bin npm run --silent e2e
