# Shared by the scripts in scripts/: sourced (`. scripts/lib.sh`, from the
# repository's root), never run. Getting root and installing Debian packages
# live here once, so every script asks for sudo, installs and explains a
# package it cannot get in the same way.
#
# Functions print their messages to stderr, prefixed with $LIB_WHO (the
# sourcing script's name unless it sets another), and return non-zero
# instead of exiting: the caller decides whether a failure stops it.

LIB_WHO=${LIB_WHO:-$(basename "$0")}

# as_root CMD...: runs CMD as root: directly when already root, else
# through sudo (which may ask for a password).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "$LIB_WHO: '$*' needs root, and sudo is not installed: run this as root" >&2
    return 1
  fi
}

# os_name: this system's name as /etc/os-release gives it.
os_name() {
  (. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-${ID:-unknown} ${VERSION_ID:-}}") ||
    echo "an unknown system (no /etc/os-release)"
}

# is_debian12: true on Debian 12 (bookworm), and nowhere else (not on its
# derivatives, whose suites differ).
is_debian12() {
  (. /etc/os-release 2>/dev/null && [ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ])
}

# has_apt: true where Debian packages can be checked and installed.
has_apt() {
  command -v dpkg >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1
}

# apt_missing PKG...: prints those of PKG that are not installed, one a line.
apt_missing() {
  local p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || echo "$p"
  done
}

# apt_update: refreshes apt's package lists (always: call it again after
# adding an apt source).
apt_update() {
  as_root apt-get update -qq >/dev/null
}

# apt_candidate PKG: true if the apt sources as last updated offer PKG.
apt_candidate() {
  local c
  c=$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p')
  [ -n "$c" ] && [ "$c" != "(none)" ]
}

# apt_install ARG...: apt-get install -y -qq ARG... as root, without
# questions. sudo drops the caller's environment, so DEBIAN_FRONTEND is
# passed through env.
apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# apt_ensure PKG...: installs those of PKG that are missing. Returns
# non-zero, having said what to do, when they cannot be installed: no apt
# on this system, or no apt source that offers them.
apt_ensure() {
  has_apt || {
    echo "$LIB_WHO: this system ($(os_name)) has no dpkg/apt-get, so these Debian packages" >&2
    echo "$LIB_WHO: cannot be checked or installed: $*" >&2
    echo "$LIB_WHO: install them (or this system's equivalents) yourself, then run this again." >&2
    return 1
  }
  local missing p
  mapfile -t missing < <(apt_missing "$@")
  [ ${#missing[@]} -gt 0 ] || return 0
  apt_update || { echo "$LIB_WHO: apt-get update failed (needed for: ${missing[*]})" >&2; return 1; }
  local unavailable=()
  for p in "${missing[@]}"; do
    apt_candidate "$p" || unavailable+=("$p")
  done
  if [ ${#unavailable[@]} -gt 0 ]; then
    echo "$LIB_WHO: no apt source on this system ($(os_name)) offers: ${unavailable[*]}" >&2
    echo "$LIB_WHO: add a source that has them (or install them another way), then run this again." >&2
    return 1
  fi
  echo "$LIB_WHO: installing Debian packages: ${missing[*]}" >&2
  apt_install "${missing[@]}" || { echo "$LIB_WHO: apt-get install ${missing[*]} failed" >&2; return 1; }
}

# need_command CMD HINT: true if CMD is on PATH; else says so, with HINT
# (how to get it), and returns non-zero.
need_command() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "$LIB_WHO: $1 is not installed ($2)" >&2
  return 1
}
