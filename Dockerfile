# replywatch container image.
#
#   docker build -t replywatch .
#   docker run -d -p 9488:9488 --read-only --tmpfs /tmp \
#     --cap-drop ALL --security-opt no-new-privileges \
#     -v /path/to/replywatch.yml:/etc/replywatch/replywatch.yml:ro \
#     -v replywatch-data:/var/lib/replywatch \
#     --env-file /path/to/secrets.env replywatch
#
# It runs as the unprivileged user `replywatch` and writes only to /var/lib/replywatch
# (the store) and /tmp (SQLite's temporary files), so the root filesystem can be
# read-only as above.
#
# The configuration should keep its database under /var/lib/replywatch
# (store: {path: /var/lib/replywatch/replywatch.db}).

# --- build stage: the same dependencies and preset as a developer machine ---
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh
COPY . .
ENV CMAKE_GENERATOR=Ninja
RUN cmake --preset release -DREPLYWATCH_BUILD_TESTS=OFF -DREPLYWATCH_BUILD_BENCH=OFF \
 && cmake --build --preset release --target replywatch \
 && install -D -m 0755 build/release/daemon/replywatch /out/usr/local/bin/replywatch \
 && install -D -m 0644 config/replywatch.example.yml /out/etc/replywatch/replywatch.example.yml

# --- runtime stage: shared libraries only, non-root user ---
FROM debian:12-slim
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN bash /tmp/install-deps.sh --runtime \
 && rm -rf /var/lib/apt/lists/* /tmp/install-deps.sh \
 && useradd --system --home-dir /var/lib/replywatch --shell /usr/sbin/nologin replywatch \
 && install -d -o replywatch -g replywatch -m 0700 /var/lib/replywatch
COPY --from=build /out/ /

USER replywatch
WORKDIR /var/lib/replywatch
VOLUME ["/var/lib/replywatch"]
EXPOSE 9488
# /-/healthy needs no credentials; with TLS on (--web.config.file) it answers over HTTPS.
# Another port than 9488 needs its own --health-cmd.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:9488/-/healthy \
   || curl -fsSk -o /dev/null https://127.0.0.1:9488/-/healthy
ENTRYPOINT ["/usr/local/bin/replywatch", "serve", "--config", "/etc/replywatch/replywatch.yml"]
# Listen on every interface inside the container; override CMD to pass other flags.
CMD ["--web.listen-address", "0.0.0.0:9488"]
