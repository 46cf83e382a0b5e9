#!/bin/sh
# Back up the dev stack of docker-compose.one-stack.yml: a pg_dump of the database and a
# mirror of the media bucket, into backups/<UTC time>/.
set -eu
stack="docker compose -f docker-compose.one-stack.yml --profile dev"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
dir="backups/$stamp"
mkdir -p "$dir"
# shellcheck disable=SC2016 # expanded inside the container, not here
$stack exec -T postgres sh -c 'pg_dump -U "$POSTGRES_USER" -d "$POSTGRES_DB" --format=custom' \
  > "$dir/certplatform.pgdump"
# shellcheck disable=SC2016 # expanded inside the container, not here
$stack run --rm --no-deps -v "$PWD/$dir:/backup" minio-init \
  'mc alias set local http://minio:9000 "$S3_ACCESS_KEY" "$S3_SECRET_KEY" >/dev/null && mc mirror --quiet "local/$S3_BUCKET" /backup/media'
echo "Backed up to $dir"
