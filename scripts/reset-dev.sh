#!/bin/sh
# Reset the dev stack: stop it and delete its volumes (database, Redis, NATS, ClickHouse,
# MinIO). Asks first unless CONFIRM=yes; run `make backup-dev` before if the data matters.
set -eu
if [ "${CONFIRM:-}" != "yes" ]; then
  printf 'This deletes every volume of the dev stack. Type "reset" to go on: '
  read -r answer
  [ "$answer" = "reset" ] || { echo "Nothing changed."; exit 1; }
fi
docker compose -f docker-compose.one-stack.yml -f docker-compose.yml -f docker-compose.dev.yml \
  --profile dev down --volumes --remove-orphans
echo "Dev stack reset; start it again with docker compose ... up."
