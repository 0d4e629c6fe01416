# The olactors daemon as an image: a virtualenv built from the locked
# requirements, run as an unprivileged user, state in a volume.
#
#   make image                      # or: docker build -t olactors .
#   docker run -e OLACTORS_ADMIN_TOKEN=$(openssl rand -hex 24) \
#     -e OLACTORS_API_KEYS=$(openssl rand -hex 24) \
#     -p 8080:8080 -p 127.0.0.1:8081:8081 olactors
#
# The configuration is /etc/olactors/olactors.toml (config/container.toml);
# mount another there, or point OLACTORS_CONFIG at one. Secrets come from the
# environment (docker run --env-file), never from the image.

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
# Dependencies first, from the lock: a change to the code alone reuses this layer.
COPY requirements/run.lock requirements/run.lock
RUN python -m venv /opt/olactors \
 && /opt/olactors/bin/pip install --no-cache-dir --require-virtualenv -r requirements/run.lock
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN /opt/olactors/bin/pip install --no-cache-dir --no-deps .

FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 olactors \
 && useradd --system --uid 10001 --gid olactors --home-dir /var/lib/olactors \
      --shell /usr/sbin/nologin olactors \
 && install -d -o olactors -g olactors -m 0700 /var/lib/olactors
COPY --from=build /opt/olactors /opt/olactors
COPY config/container.toml /etc/olactors/olactors.toml
ENV PATH=/opt/olactors/bin:$PATH \
    OLACTORS_CONFIG=/etc/olactors/olactors.toml \
    PYTHONDONTWRITEBYTECODE=1
USER olactors:olactors
WORKDIR /var/lib/olactors
VOLUME ["/var/lib/olactors"]
# 8080: webhooks (the public listener); 8081: the admin listener (publish it
# on the host's loopback only, e.g. -p 127.0.0.1:8081:8081); 8082: the app API
# (for the app's backend, never the internet).
EXPOSE 8080 8081 8082
# SIGTERM starts an orderly shutdown; give `docker stop -t` more than the
# configured daemon.shutdown_timeout_s (30 s) so it is never cut short.
STOPSIGNAL SIGTERM
# Liveness, not readiness: a replica whose Redis is away is alive and comes
# back by itself; restarting it would not help. It needs [admin] open_probes
# (config/container.toml sets it); a configuration mounted without it leaves
# the container unhealthy.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/healthz', timeout=2)"]
ENTRYPOINT ["olactors"]
CMD ["run"]
