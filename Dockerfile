# syntax=docker/dockerfile:1
# Multi-stage: compile edgebox into one binary, then ship it on distroless, non-root.
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
COPY deno.json deno.lock ./
COPY main.ts ./
COPY core ./core
COPY plugins ./plugins
COPY config ./config
RUN deno install --frozen && deno task compile

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/dist/edgebox /usr/local/bin/edgebox
COPY config/container.yaml /etc/edgebox/edgebox.yaml
USER nonroot
EXPOSE 8080
# Listens on every interface, so the config requires EDGEBOX_API_KEY; mount your own config
# over /etc/edgebox/edgebox.yaml to enable more plugins.
ENTRYPOINT ["/usr/local/bin/edgebox"]
CMD ["serve", "--config", "/etc/edgebox/edgebox.yaml"]
HEALTHCHECK --interval=10s --timeout=2s --start-period=5s --retries=3 \
  CMD ["/usr/local/bin/edgebox", "probe", "http://127.0.0.1:8080/health"]
