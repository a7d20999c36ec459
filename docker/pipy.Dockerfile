# The `pipy` binary (the sidecar pipy-operator injects; also a repo or a plain proxy).
#   docker build -f docker/pipy.Dockerfile -t ghcr.io/pipy-rs/pipy:dev .
#   docker run --rm -p 8080:8080 ghcr.io/pipy-rs/pipy:dev -e "pipy().listen(8080).serveHTTP(new Message('hi'))"
# Multi-stage: built with the Rust toolchain image, run on distroless (glibc, no shell)
# as the numeric non-root user 65532.

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
    cargo build --release --locked -p pipy --bin pipy \
 && install -D -m 0755 target/release/pipy /out/pipy \
 && strip /out/pipy

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/pipy /usr/local/bin/pipy
USER 65532:65532
# Worker admin port in a sidecar (pipy-operator's injector), repo port otherwise.
EXPOSE 15060 6060
ENTRYPOINT ["/usr/local/bin/pipy"]
