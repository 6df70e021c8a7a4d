# syntax=docker/dockerfile:1
# edgebox as one binary on distroless: `deno compile` in a build stage, then only the binary, its
# config and a data volume in the image, run as a numeric non-root user.
#   docker build -t edgebox:0.1.0 .
#   docker run -e EDGEBOX_API_KEY=... -p 8080:8080 -v edgebox-data:/var/lib/edgebox edgebox:0.1.0
# VERSION follows deno.json's "version" and DENO_VERSION the Deno that .ci/run pins
# (tests/e2e/deploy_test.ts holds them equal).
ARG DENO_VERSION=2.9.6

FROM denoland/deno:${DENO_VERSION} AS build
WORKDIR /src
# Dependencies first, in a layer of their own: it is rebuilt only when deno.json or deno.lock
# change, not on every source edit.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY main.ts ./
COPY core ./core
COPY plugins ./plugins
COPY config ./config
# The binary must run here too; the data directory is made here because distroless has no shell.
RUN deno task compile \
  && ./dist/edgebox version \
  && mkdir -p /rootfs/var/lib/edgebox

FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
# Build-specific labels come from the build: --label org.opencontainers.image.revision=<commit>
# --label org.opencontainers.image.created=<RFC 3339 time>.
LABEL org.opencontainers.image.title="edgebox" \
      org.opencontainers.image.description="Plugins for NATS, Redis, Neo4j and S3 behind one HTTP API, with embedded durable backends" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.vendor="the edgebox authors" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"
COPY --from=build /src/dist/edgebox /usr/local/bin/edgebox
COPY config/container.yaml /etc/edgebox/edgebox.yaml
# Owned by the runtime user, so a new named volume is created writable for it.
COPY --from=build --chown=65532:65532 /rootfs/var/lib/edgebox /var/lib/edgebox
# The sqlite backends' files, storage's objects and the data directory's lock live here.
ENV EDGEBOX_DATA_DIR=/var/lib/edgebox
VOLUME ["/var/lib/edgebox"]
WORKDIR /var/lib/edgebox
# 65532 is distroless's "nonroot"; numeric, so runtimes can check runAsNonRoot without /etc/passwd.
USER 65532:65532
EXPOSE 8080
# Listens on every interface, so the config requires EDGEBOX_API_KEY; mount your own config over
# /etc/edgebox/edgebox.yaml to use real backends. The health check is the binary's own probe
# (distroless has no curl) on the port config/container.yaml fixes: liveness, not readiness, so a
# backend outage does not get the container replaced.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/edgebox", "probe", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["/usr/local/bin/edgebox"]
CMD ["serve", "--config", "/etc/edgebox/edgebox.yaml"]
