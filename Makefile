# Folio — see README.md. `make run` and `make test` work on a fresh machine.
GO        ?= go
BIN       := bin/folio
PGBIN     := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) $(shell command -v initdb 2>/dev/null))

.PHONY: run test bench lint build deps postgres

build:
	$(GO) build -o $(BIN) ./cmd/folio

# PostgreSQL binaries are needed by the embedded database and the tests.
postgres:
	@if [ -z "$(PGBIN)" ]; then \
		echo "PostgreSQL binaries not found: installing postgresql"; \
		if [ "$$(id -u)" = 0 ]; then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
		else sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; fi; \
	fi

run: postgres build
	$(BIN) serve --demo

test: postgres
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...

bench: postgres build
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./ledger/

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
