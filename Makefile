# The README's commands. Only Go is needed; `make test` installs nothing.
GO        ?= go
DATA_DIR  ?= ./data
BENCH_DIR ?= ./benchout
BIN       := bin/rmaledger
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.build=$(VERSION)
# The race detector needs cgo and a C compiler; without them tests run without it.
RACE      := $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && command -v "$$($(GO) env CC)" >/dev/null 2>&1 && echo -race)

.PHONY: run build test test-short fuzz fuzz-short bench bench-quick bench-go crashtest soak lint fmt compose-up compose-down clean

## run: serve the API on the embedded store with generated development keys
run:
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/rmaledger serve --dev --data-dir $(DATA_DIR)

## build: a static binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/rmaledger

## test: every test, with the race detector
test:
	$(GO) vet ./...
	$(GO) test $(RACE) -count=1 -timeout 15m ./...
	@$(MAKE) --no-print-directory fuzz-short

## fuzz-short: every fuzz target for FUZZTIME (20,000 inputs, 1-10 s) each; `make test` runs it
## (plain `go test` runs only their seed corpora in testdata/fuzz/). A package's fuzzing binary
## is built once for all its targets: linking it again per target cost more than the fuzzing.
## The limit is a count, not a duration: Go 1.26's fuzzing coordinator can fail a target with
## "context deadline exceeded" and no crasher when a duration ends (go.dev/issue/75804, fixed in
## Go 1.27), which failed CI once; a count sets no deadline.
FUZZTIME ?= 20000x
fuzz-short:
	@set -e; bin=$$(mktemp -d); trap 'rm -rf "$$bin"' EXIT; cache=$$($(GO) env GOCACHE)/fuzz; \
	for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  pkg=$$($(GO) list $$dir); $(GO) test -c -fuzz=. -o "$$bin/fuzz.test" $$dir; \
	  for target in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz $$dir $$target for $(FUZZTIME)"; \
	    (cd $$dir && "$$bin/fuzz.test" -test.run '^$$' -test.fuzz "^$$target\$$" -test.fuzztime $(FUZZTIME) \
	      -test.fuzzcachedir "$$cache/$$pkg" >"$$bin/log" 2>&1) || { cat "$$bin/log"; \
	      echo "$$target failed: the input is saved in $$dir/testdata/fuzz/$$target/; run: $(GO) test -run $$target $$dir"; exit 1; }; \
	  done; \
	done

## fuzz: every fuzz target for 300,000 inputs (up to about 3 minutes) each
fuzz:
	@$(MAKE) --no-print-directory fuzz-short FUZZTIME=300000x

## bench: the whole service against its targets, beside this machine's limits measured in the
## same run (docs/performance.md): $(BENCH_DIR)/report.json, report.txt and CPU profiles per stage
bench: build
	$(GO) run ./cmd/ledgerbench --service-bin $(BIN) --out $(BENCH_DIR)/report.json --table $(BENCH_DIR)/report.txt --cpuprofile $(BENCH_DIR)/profiles

## bench-quick: the same report at small sizes in under two minutes; CI checks its shape, never its timings
bench-quick: build
	$(GO) run ./cmd/ledgerbench --quick --service-bin $(BIN) --out $(BENCH_DIR)/quick.json --table $(BENCH_DIR)/quick.txt
	$(GO) run ./cmd/ledgerbench validate $(BENCH_DIR)/quick.json

## bench-go: the Go benchmarks of single components (store append, projection lag, rebuild, ...)
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3s ./...

## crashtest: SIGKILL the service under load 25 times; nothing acknowledged may be lost
crashtest:
	RMALEDGER_CRASH_CYCLES=25 $(GO) test -count=1 -timeout 30m -run 'TestCrashUnderLoad' -v ./cmd/rmaledger/

## soak: 10 minutes at a steady rate; latency, goroutines and memory per 30s window
soak:
	RMALEDGER_SOAK=10m $(GO) test -count=1 -timeout 20m -run 'TestSoak' -v ./cmd/rmaledger/

## lint: formatting and vet, the tools' own modules included (so that what docs cite still builds)
lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...
	cd tools/writeshape && $(GO) vet .

## compose-up: KurrentDB and the service in Docker
compose-up:
	docker compose up -d --build

compose-down:
	docker compose down

clean:
	rm -rf bin
