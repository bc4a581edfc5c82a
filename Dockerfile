# The dashboard itself, as compose.yaml runs it. BASE_IMAGE as in the cowserv Dockerfile: any Debian-like image
# with python3 (a machine without a registry uses the local one scripts/make-base-image makes).
ARG BASE_IMAGE=python:3.12-slim
FROM ${BASE_IMAGE}
RUN python3 -m venv /opt/venv 2>/dev/null || { rm -rf /opt/venv && apt-get update \
    && apt-get install -y --no-install-recommends python3-venv && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/venv; }
# The docker CLI and its Compose v2 plugin, which the compose lesson runs (`docker compose`, through the host's
# socket): Debian trixie's packages, fetched with the base image's apt as scripts/install-compose does on a host.
# Where no Debian mirror answers the image is built without them, and the compose lesson says Compose is missing.
ARG DEBIAN_MIRROR
COPY scripts/install-compose /usr/local/sbin/install-compose
RUN install-compose --with-cli \
    || echo "Dockerfile: no docker CLI or Compose plugin in this image; the compose lesson will say so" >&2
# From wheels/ when scripts/wheels filled it (offline, or behind a proxy the container does not trust), else PyPI.
COPY . /src
RUN cd /src && if ls wheels/*.whl >/dev/null 2>&1; \
      then /opt/venv/bin/pip install --no-cache-dir --no-index --find-links wheels cowserv-dashboard; \
      else /opt/venv/bin/pip install --no-cache-dir .; fi \
    && rm -rf /src
WORKDIR /
ENV DASHBOARD_BIND=0.0.0.0:5000
EXPOSE 5000
CMD ["/opt/venv/bin/gunicorn", "-c", "python:dashboard.gunicorn_conf", "dashboard:create_app()"]
