# syntax=docker/dockerfile:1

# Build a static binary: no cgo (the embedded store's SQLite is pure Go), so
# it runs on an image with no libc.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.build=${VERSION}" \
      -o /out/rmaledger ./cmd/rmaledger
# The data directory, made here because the runtime image has no shell.
RUN mkdir -p /out/data

# distroless static: CA certificates and tzdata, no shell, no package manager;
# the nonroot user is uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rmaledger /usr/local/bin/rmaledger
# Owned by nonroot so a fresh named volume mounted here (which copies the
# directory's ownership) is writable.
COPY --from=build --chown=65532:65532 /out/data /var/lib/rmaledger
ENV RMALEDGER_ADDR=0.0.0.0:8080 \
    RMALEDGER_DATA_DIR=/var/lib/rmaledger
USER 65532:65532
EXPOSE 8080
VOLUME ["/var/lib/rmaledger"]
ENTRYPOINT ["rmaledger"]
CMD ["serve"]
