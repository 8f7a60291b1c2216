# The tollgate image: `docker build -t tollgate .`, then
#   docker run --rm -v "$PWD:/work" tollgate check --manifest tollgate.yaml
# Used by the GitLab template (ci/gitlab) and the Spinnaker Run Job example (examples/spinnaker).

# Build stage. The compiler comes from the image tag (rust-toolchain.toml is not copied, so rustup
# downloads nothing); bookworm so that the binary's glibc matches the runtime stage's.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY policies ./policies
COPY schema ./schema
COPY benches ./benches
RUN cargo build --release --locked \
    && install -m 0755 target/release/tollgate /usr/local/bin/tollgate

# Runtime stage: debian:bookworm-slim rather than distroless, because GitLab CI runs job scripts
# with the image's shell (distroless has none); Spinnaker and `docker run` use the entrypoint.
FROM debian:bookworm-slim
LABEL org.opencontainers.image.title="tollgate" \
      org.opencontainers.image.description="A CI/CD gate: manifest + evidence + signatures + Rego policies -> verdict" \
      org.opencontainers.image.source="https://github.com/tollgate-dev/tollgate" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /usr/local/bin/tollgate /usr/local/bin/tollgate
# A fixed non-root UID (distroless's "nonroot"), numeric so that Kubernetes' runAsNonRoot can
# verify it without an /etc/passwd entry.
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["tollgate"]
CMD ["check"]
