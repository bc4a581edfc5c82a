#!/usr/bin/env bash
# The stand-in postgres:16's entrypoint, doing what the official image's does for the variables the lessons use:
# on first start (PGDATA holds no cluster) initdb with POSTGRES_USER (default postgres) and POSTGRES_PASSWORD,
# create POSTGRES_DB (default: the user's name), run /docker-entrypoint-initdb.d/*.sh and *.sql, listen on every
# address with password auth; then exec postgres in the foreground as the postgres user, PID 1 of the container.
set -Eeuo pipefail

: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
export PGDATA POSTGRES_USER POSTGRES_DB

say() { echo "$(date -u '+%Y-%m-%d %H:%M:%S UTC') [entrypoint] $*"; }

# Until postgres is exec'd this bash is PID 1, which the kernel gives no default action for SIGTERM or SIGINT:
# `docker stop` during the set-up ends it (and the set-up's server) instead of waiting 10 s for SIGKILL.
temp_server=
stop_now() {
  [[ -z $temp_server ]] || pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  exit "$1"
}
trap 'stop_now 143' TERM
trap 'stop_now 130' INT

# `docker run postgres:16 psql …` and the like run as given; only `postgres` (or its options) goes through set-up.
if [[ "${1:-}" == -* ]]; then
  set -- postgres "$@"
fi
if [[ "${1:-}" != postgres ]]; then
  exec "$@"
fi

if [[ $(id -u) == 0 ]]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  [[ $(stat -c %U "$PGDATA") == postgres ]] || chown -R postgres:postgres "$PGDATA"
  chown postgres:postgres /var/run/postgresql && chmod 2775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
fi

if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  if [[ -z "${POSTGRES_PASSWORD:-}" && "$POSTGRES_HOST_AUTH_METHOD" != trust ]]; then
    cat >&2 <<'MESSAGE'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
MESSAGE
    exit 1
  fi
  say "initialising the database cluster in $PGDATA"
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
    --encoding=UTF8 --locale=C.UTF-8 -D "$PGDATA" ${POSTGRES_INITDB_ARGS:-}
  # As the official image: local connections as initdb sets them, every other address with a password.
  printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"

  # A server for the set-up only, on the socket alone: nothing from outside reaches it half made.
  temp_server=1
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start
  if [[ "$POSTGRES_DB" != postgres ]]; then
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password --dbname postgres \
      --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  for file in /docker-entrypoint-initdb.d/*; do
    [[ -e $file ]] || continue
    case "$file" in
      *.sh) say "running $file"; . "$file" ;;
      *.sql) say "running $file"; psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" \
               --no-password --dbname "$POSTGRES_DB" -f "$file" ;;
      *) say "ignoring $file" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  temp_server=
  say "PostgreSQL init process complete; ready for start up."
else
  say "PostgreSQL Database directory appears to contain a database; Skipping initialization"
fi

exec "$@"
