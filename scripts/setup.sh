# Sourced by scripts/up and scripts/test: a Python environment in .venv, a Docker engine that answers,
# and a base image the cowserv build can use. Each step reuses what is already there.
# Before sourcing, set EXTRAS (e.g. "test") for optional dependencies and APT_PACKAGES for more Debian packages.

apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  echo "setup: installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

# What seats with engines of their own give a student's shell (nano, tab completion) and need (nsenter, unshare,
# setpriv: util-linux; iptables for the seat engines' own chains), for scripts/up and scripts/test alike.
SEAT_PACKAGES="nano bash-completion util-linux iptables iproute2"
# shellcheck disable=SC2086  # both are lists of words
apt_install $SEAT_PACKAGES ${APT_PACKAGES:-}

if [[ ! -x .venv/bin/python ]]; then
  echo "setup: creating .venv"
  python3 -m venv .venv
fi
echo "setup: installing the dashboard into .venv${EXTRAS:+ (with $EXTRAS)}"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${EXTRAS:+[$EXTRAS]}"

scripts/ensure-engine

# The Dockerfile's default base (python:3.12-slim) needs a registry; where none answers, make one locally. The
# dashboard would find the stand-ins below by itself (domain/stand_ins.py); they are exported all the same, for the
# builds that do not go through it (compose.yaml's BASE_IMAGE build argument, the tests' own builds, scripts/engine26).
if [[ -z "${DASHBOARD_BASE_IMAGE:-}" ]]; then
  default_base=$(sed -n 's/^ARG BASE_IMAGE=//p' dashboard/lessons/03-images/Dockerfile)
  if ! docker image inspect "$default_base" >/dev/null 2>&1 \
     && ! timeout 120 docker pull -q "$default_base" >/dev/null 2>&1; then
    echo "setup: $default_base cannot be pulled here; using a local base image instead"
    scripts/make-base-image cowserv-base:bookworm
    export DASHBOARD_BASE_IMAGE=cowserv-base:bookworm
  fi
fi

# The state lesson's postgres:16 needs a registry too; where none answers, a local stand-in (Debian's postgresql,
# scripts/make-postgres-image). Decided quickly: with the local base image in use no registry answers, so no pull
# is tried; else one pull, given 60 s.
if [[ -z "${DASHBOARD_POSTGRES_IMAGE:-}" ]] && ! docker image inspect postgres:16 >/dev/null 2>&1; then
  if [[ "${DASHBOARD_BASE_IMAGE:-}" == cowserv-base:bookworm ]] \
     || ! timeout 60 docker pull -q postgres:16 >/dev/null 2>&1; then
    echo "setup: postgres:16 cannot be pulled here; using a local stand-in instead"
    scripts/make-postgres-image cowserv-postgres:bookworm
    export DASHBOARD_POSTGRES_IMAGE=cowserv-postgres:bookworm
  fi
fi

# Compose v2 (`docker compose`), the docker CLI plugin the compose lesson runs: installed where it is missing.
scripts/install-compose
