# The README's commands. Only Go is needed; `make test` installs nothing.
GO        ?= go
DATA_DIR  ?= ./data
BIN       := bin/rmaledger
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.build=$(VERSION)
# The race detector needs cgo and a C compiler; without them tests run without it.
RACE      := $(shell [ "$$($(GO) env CGO_ENABLED)" = 1 ] && command -v "$$($(GO) env CC)" >/dev/null 2>&1 && echo -race)

.PHONY: run build test test-short bench crashtest lint fmt compose-up compose-down clean

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

## bench: the benchmarks (store append, ...)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3s ./...

## crashtest: SIGKILL the service under load 25 times; nothing acknowledged may be lost
crashtest:
	RMALEDGER_CRASH_CYCLES=25 $(GO) test -count=1 -timeout 30m -run 'TestCrashUnderLoad' -v ./cmd/rmaledger/

## lint: formatting and vet
lint:
	@test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)
	$(GO) vet ./...

## compose-up: KurrentDB and the service in Docker
compose-up:
	docker compose up -d --build

compose-down:
	docker compose down

clean:
	rm -rf bin
