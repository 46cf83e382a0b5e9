#!/bin/sh
# Build the dev and prod targets with buildah (no Docker engine needed) and prove that the
# prod image serves: `certplatform serve --role web` as UID 10001 answers /healthz and a page.
# Base image: BASE_IMG (default: the local one ../shared/tools/make-base-image builds).
set -eu
base=${BASE_IMG:-localhost/python:3.11-slim-bookworm}
targets=${TARGETS:-dev prod}
port=${SMOKE_PORT:-38080}
for target in $targets; do
  buildah bud --isolation chroot --layers --format docker --quiet \
    --build-arg BASE_IMG="$base" --target "$target" -t "localhost/certplatform:$target" .
  echo "built localhost/certplatform:$target"
done
container=$(buildah from localhost/certplatform:prod)
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  buildah rm "$container" >/dev/null
}
trap cleanup EXIT
[ "$(buildah inspect --format '{{.OCIv1.Config.User}}' localhost/certplatform:prod)" = "10001:10001" ]
# buildah run shares the host network: the server listens on 127.0.0.1:$port.
buildah run --isolation chroot \
  --env APP_ENV=production \
  --env SECRET_KEY=image-smoke-secret-key-of-32-characters-or-more \
  --env AUDIT_KEY=image-smoke-audit-key-of-32-characters-or-more \
  --env DATABASE_URL=sqlite+aiosqlite:////tmp/smoke.db \
  --env MEDIA_DIR=/tmp/media \
  "$container" -- certplatform serve --role web --host 127.0.0.1 --port "$port" \
  >/tmp/image-smoke-server.log 2>&1 &
server=$!
tries=0
until curl -fsS "http://127.0.0.1:$port/healthz" >/tmp/image-smoke-health.json 2>/dev/null; do
  tries=$((tries + 1))
  [ "$tries" -lt 120 ] || {
    cat /tmp/image-smoke-server.log
    echo "the prod image did not serve /healthz"
    exit 1
  }
  sleep 1
done
grep -q '"role":"web"' /tmp/image-smoke-health.json
curl -fsS "http://127.0.0.1:$port/signin" | grep -q '<form'
echo "the prod image serves /healthz and /signin as role web"
