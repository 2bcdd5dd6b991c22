# Folio: see README.md. `make run` and `make test` work on a fresh machine
# (Debian/Ubuntu with Go): PostgreSQL is installed when its binaries are missing.
GO    ?= go
BIN   := bin/folio
# Extra flags for `folio serve` in `make run`, e.g. make run ARGS='--listen 127.0.0.1:9090'.
ARGS  ?=
PGBIN := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) $(shell command -v initdb 2>/dev/null))

.PHONY: run test bench gobench lint build postgres chromium rabbitmq screenshots

build:
	$(GO) build -o $(BIN) ./cmd/folio

# The embedded database of `folio serve` and the tests start a private
# PostgreSQL from the machine's binaries (initdb, pg_ctl).
postgres:
	@if [ -z "$(PGBIN)" ]; then \
		echo "PostgreSQL binaries not found: installing postgresql"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; \
	fi

# The stream tests start a private RabbitMQ node (Debian's rabbitmq-server,
# stream/streamtest); a test that cannot start it fails.
rabbitmq:
	@if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then \
		echo "RabbitMQ not found: installing rabbitmq-server"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q rabbitmq-server; \
	fi

# The console's browser tests drive Debian's Chromium (headless, through
# chromedp); a test that cannot start it fails.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Chromium not found: installing chromium"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	fi

# Serves on 127.0.0.1:8080 with demo data, on a private PostgreSQL kept in ./.folio.
run: postgres build
	$(BIN) serve --demo $(ARGS)

# The whole suite; it starts its own PostgreSQL (or uses FOLIO_TEST_DATABASE_URL).
test: postgres chromium rabbitmq
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	# The journal's concurrency tests again on four shards, on the CockroachDB path.
	FOLIO_TEST_JOURNAL_SHARDS=4 FOLIO_TEST_DB_MODE=cockroach $(GO) test -count=1 -run 'TestConcurrentWriters|TestJournalTx|TestShards|TestBalanceCache' ./ledger/
	# The journal and the trade engine whole on the CockroachDB path (SERIALIZABLE,
	# no table lock, whole-transaction retries), on PostgreSQL.
	FOLIO_TEST_DB_MODE=cockroach $(GO) test -count=1 ./ledger/ ./affiliate/ ./ingest/

# The console's screenshots in docs/screenshots (README's tour), taken by
# the browser tests on the demo data.
screenshots: postgres chromium
	FOLIO_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run TestConsole ./console/

# The standard throughput run of docs/CONTRACT.md §8: a fresh private PostgreSQL, a
# 100k-user forest 5 levels deep, 300k trades by 8 clients in batches of 500
# through the HTTP API, then the books verified. BENCH_ARGS adds flags
# (e.g. BENCH_ARGS='--json' or '--clients 64 --batch 1 --trades 50000').
bench: postgres build
	$(BIN) bench --trades 300000 --users 100000 --depth 5 --clients 8 --batch 500 $(BENCH_ARGS)

# The Go benchmarks (ledger batches, trade batches, statistics queries).
gobench: postgres
	$(GO) test -run '^$$' -bench . -benchtime 20x ./ledger/ ./affiliate/

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
