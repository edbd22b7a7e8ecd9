# syntax=docker/dockerfile:1.7
# One image for every Podium service; the command picks the service:
#   docker run podium python -m podium_<service> serve|migrate
# Why one image, and how it is built: docs/adr/0003-container-image.md.

# Exact base version (tag, not `latest`); the same tag in both stages.
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm
# The web app is built with Node; only its static files reach the final image.
ARG NODE_IMAGE=node:20.19.5-bookworm-slim

# --- web: the single-page app, built from the lock file into /web/dist -------------
FROM ${NODE_IMAGE} AS web
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY web ./
RUN npm run build

# --- build: resolve the locked dependencies into /app/.venv -----------------------
FROM ${PYTHON_IMAGE} AS build
# Same uv as the Makefile (UV_VERSION there).
ARG UV_VERSION=0.13.8
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
WORKDIR /app

# Third-party dependencies first: this layer is rebuilt only when uv.lock or a
# pyproject changes. Every workspace member's pyproject is needed to resolve.
COPY pyproject.toml uv.lock ./
COPY libs/contracts/pyproject.toml libs/contracts/
COPY libs/runtime/pyproject.toml libs/runtime/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/identity/pyproject.toml services/identity/
COPY services/competitions/pyproject.toml services/competitions/
COPY services/scoring/pyproject.toml services/scoring/
COPY services/ingest/pyproject.toml services/ingest/
COPY services/notifier/pyproject.toml services/notifier/
COPY services/rewards/pyproject.toml services/rewards/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-install-workspace

# Then Podium itself. Workspace packages stay editable installs of /app/libs and
# /app/services so each service finds its migrations/ beside its sources.
COPY libs libs
COPY services services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages \
 && python -m compileall -q libs services
COPY deploy/docker/healthcheck.py /app/healthcheck.py

# --- runtime: the interpreter, the virtual environment and the code; no build tools ---
FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
LABEL org.opencontainers.image.title="podium" \
      org.opencontainers.image.description="Podium services: python -m podium_<service> serve|migrate"
# pip, setuptools and wheel are not needed at run time; a numeric non-root user
# lets Kubernetes verify runAsNonRoot. Code stays owned by root: read-only to it.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && groupadd --system --gid "${UID}" podium \
 && useradd --system --uid "${UID}" --gid podium --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin podium \
 && mkdir -p /var/lib/podium/blobs /var/run/secrets/podium/jwt \
 && chown -R podium:podium /var/lib/podium /var/run/secrets/podium
COPY --from=build /app /app
COPY --from=web /web/dist /app/web/dist
ENV PATH=/app/.venv/bin:$PATH \
    PODIUM_GATEWAY_WEB_ROOT=/app/web/dist \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PODIUM_BLOB_DIR=/var/lib/podium/blobs \
    PODIUM_GATEWAY_HOST=0.0.0.0 \
    PODIUM_IDENTITY_HOST=0.0.0.0 \
    PODIUM_COMPETITIONS_HOST=0.0.0.0 \
    PODIUM_SCORING_HOST=0.0.0.0 \
    PODIUM_INGEST_HOST=0.0.0.0 \
    PODIUM_NOTIFIER_HOST=0.0.0.0
WORKDIR /app
USER ${UID}:${UID}
EXPOSE 8000 8001 8002 8003 8004 8005
# Probes /health/live of the service named on the command line (deploy/docker/healthcheck.py).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/app/healthcheck.py"]
CMD ["python", "-m", "podium_gateway", "serve"]
