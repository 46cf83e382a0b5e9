# syntax=docker/dockerfile:1.7
# One image for every role (ADR 0019): `certplatform serve --role <role>` or `certplatform worker`.
# Stages: base -> dev (reload, debugger port) ; base -> build (wheels from the lock) -> prod.
# BASE_IMG is pinned by digest in CI (main-build.yml); here any Python 3.11+ slim image works.
ARG BASE_IMG=python:3.11-slim-bookworm

# checkov:skip=CKV_DOCKER_7: the tag is in BASE_IMG (a version, or CI's digest), which checkov does not expand
FROM ${BASE_IMG} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app \
    && python -m venv /opt/venv
WORKDIR /app

# Development: the checkout is mounted at /app; uvicorn reloads on change; 5678 is debugpy's.
FROM base AS dev
COPY requirements/dev.txt requirements/dev.txt
RUN pip install -r requirements/dev.txt
ENV APP_ENV=development HOST=0.0.0.0 PYTHONPATH=/app/src
EXPOSE 3000 3001 4000 5000 5001 5002 5003 5678
CMD ["sh", "-c", "certplatform db upgrade && exec uvicorn --factory certplatform.app:create_app --reload --reload-dir src --host 0.0.0.0 --port ${PORT:-3000}"]

# Build: wheels of the locked dependencies and of the project, installed into /opt/venv.
FROM base AS build
COPY requirements/lock.txt requirements/lock.txt
RUN pip wheel --wheel-dir /wheels -r requirements/lock.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip install --no-index --find-links /wheels -r requirements/lock.txt \
    && pip install --no-index --no-deps /wheels/certplatform-*.whl \
    && python -m compileall -q /opt/venv

# Production: the virtualenv only, as UID 10001; writes go to /data (a volume) and /tmp, so
# the root filesystem can be mounted read-only.
FROM base AS prod
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=https://github.com/cert-platform/cert-platform
LABEL org.opencontainers.image.title="cert-platform" \
      org.opencontainers.image.description="Exam-prep platform: one image, one role per container" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="${SOURCE}"
COPY --from=build /opt/venv /opt/venv
RUN mkdir -p /data/media && chown -R 10001:10001 /data
ENV APP_ENV=production \
    HOST=0.0.0.0 \
    MEDIA_DIR=/data/media \
    TMPDIR=/tmp
VOLUME ["/data"]
USER 10001:10001
EXPOSE 3000 3001 4000 5000 5001 5002 5003
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=2)"]
ENTRYPOINT ["certplatform"]
CMD ["serve", "--role", "all"]
