# The two set-up commands of README.md: `make run` and `make test`.
.PHONY: run test build

run:
	go run ./cmd/xgate

build:
	go build -o xgate ./cmd/xgate

test:
	bash scripts/test.sh
