#!/usr/bin/env bash
# Installs what the project needs on a Debian/Ubuntu machine, once:
#   - PostgreSQL + PostGIS from apt (unless DATABASE_URL points elsewhere), as root or via sudo;
#     without either it prints the exact command and stops;
#   - a CJK font (Debian's fonts-noto-cjk) for evidence captions and documents, the same way;
#     without root it prints the command and goes on (captions then fail with that advice);
#   - Node.js and npm (Debian's, unless there already) to build the web console, and Debian's
#     chromium for its browser test and openssl for the package-signature test, the same way;
#   - a virtual environment in .venv with the project and its development tools;
#   - the web console (api/console): `npm ci` from the committed package-lock.json, then its
#     build into api/console/dist (again only when its sources changed).
# Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
STAMP="$VENV/.installed"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@";
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@";
  else return 99; fi
}

have_postgis() {
  for control in /usr/share/postgresql/*/extension/postgis.control; do
    [ -e "$control" ] || continue
    version=$(basename "$(dirname "$(dirname "$control")")")
    [ -x "/usr/lib/postgresql/$version/bin/initdb" ] && return 0
  done
  return 1
}

have_cjk_font() {
  [ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] && return 0
  command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list ':lang=zh-cn' file 2>/dev/null | head -n 1)" ]
}

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

packages=()
if [ -z "${DATABASE_URL:-}" ] && ! have_postgis; then
  packages+=(postgresql postgresql-postgis)
fi
PYTHON=$(pick_python || true)
if [ -z "$PYTHON" ]; then
  packages+=(python3 python3-venv)
elif [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  packages+=(python3-venv)
fi
if ! command -v runuser >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  packages+=(util-linux)
fi

for tool in node npm; do
  command -v "$tool" >/dev/null 2>&1 || packages+=("$([ "$tool" = node ] && echo nodejs || echo npm)")
done

wanted=()  # good to have: the service runs without them, with a clear error where needed
if ! have_cjk_font; then
  wanted+=(fonts-noto-cjk)
fi
if ! ldconfig -p 2>/dev/null | grep -q "libpangoft2-1.0.so.0"; then
  wanted+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)  # PDF documents (weasyprint)
fi
if ! command -v chromium >/dev/null 2>&1; then
  wanted+=(chromium)  # tests/console drives it headless
fi
if ! command -v openssl >/dev/null 2>&1; then
  wanted+=(openssl)  # tests/cases/test_package_signing.py checks packages the recipients' way
fi

all=("${packages[@]}" "${wanted[@]}")
if [ ${#all[@]} -gt 0 ]; then
  say "installing system packages: ${all[*]}"
  set +e
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  status=$?
  if [ "$status" = 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${all[@]}" >/dev/null
    status=$?
  fi
  set -e
  if [ "$status" != 0 ] && [ ${#packages[@]} -eq 0 ]; then
    echo "warning: could not install ${wanted[*]} (evidence captions need a CJK font," \
      "the console's browser test chromium). Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${wanted[*]}" >&2
  elif [ "$status" = 99 ]; then
    echo "This needs root to install ${all[*]}. Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${all[*]}" >&2
    echo "or set DATABASE_URL to an existing PostgreSQL/PostGIS database." >&2
    exit 1
  elif [ "$status" != 0 ]; then
    echo "apt-get failed ($status)" >&2
    exit "$status"
  fi
  PYTHON=$(pick_python)
fi

if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  say "installing Python dependencies into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[dev]"
  touch "$STAMP"
fi

CONSOLE=api/console
console_stale() {
  [ ! -f "$CONSOLE/dist/index.html" ] && return 0
  [ -n "$(find "$CONSOLE/src" "$CONSOLE/build.mjs" "$CONSOLE/package-lock.json" \
    "$CONSOLE/tsconfig.json" mobile_contract/v1/openapi.json \
    -newer "$CONSOLE/dist/index.html" -print -quit)" ]
}
if [ ! -f "$CONSOLE/node_modules/.package-lock.json" ] ||
   [ "$CONSOLE/package-lock.json" -nt "$CONSOLE/node_modules/.package-lock.json" ]; then
  say "installing the console's npm packages (npm ci)"
  (cd "$CONSOLE" && npm ci --no-audit --no-fund --loglevel=error)
  rm -f "$CONSOLE/dist/index.html"  # new packages: build again
fi
if console_stale; then
  say "building the web console"
  (cd "$CONSOLE" && node build.mjs)
fi
