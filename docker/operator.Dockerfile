# The `pipy-operator` binary (deployed by charts/pipy).
#   docker build -f docker/operator.Dockerfile -t ghcr.io/pipy-rs/pipy-operator:dev .
# Multi-stage: built with the Rust toolchain image (stripped: about 28 MB instead of
# 140 MB with line tables), run on distroless (glibc, no shell)
# as the numeric non-root user 65532, which the chart's securityContext also sets.

# Bookworm, to match the glibc of the distroless cc-debian12 runtime.
ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
# Cache mounts keep the registry and target dir between builds (BuildKit); the binary
# is copied out of the cached target dir within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p pipy-operator --bin pipy-operator \
 && install -D -m 0755 target/release/pipy-operator /out/pipy-operator \
 && strip /out/pipy-operator

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/pipy-operator /usr/local/bin/pipy-operator
USER 65532:65532
# repo API, webhook (HTTPS), metrics and probes: the chart's defaults.
EXPOSE 6060 9443 8080
ENTRYPOINT ["/usr/local/bin/pipy-operator"]
