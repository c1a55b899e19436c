# The two set-up commands of README.md: `make run` and `make test`. The dashboard's generated
# files (views/*_templ.go, static/lib/) are committed, so neither needs templ or npm.
.PHONY: run test build generate assets e2e

TEMPL := github.com/a-h/templ/cmd/templ@v0.3.1100

run:
	go run ./cmd/xgate

build:
	go build -o xgate ./cmd/xgate

test:
	bash scripts/test.sh

# generate turns views/*.templ into views/*_templ.go (commit both).
generate:
	go run $(TEMPL) generate -path views

# assets copies htmx, Pico and uPlot from node_modules into static/lib/ (commit it).
assets:
	npm ci
	npm run assets

# e2e runs the Playwright tests against a freshly built binary (needs npm ci and chromium).
e2e:
	npm run e2e
