# Sourced by scripts/setup.sh and scripts/fuzz.sh: installs the Debian
# packages that are missing, with sudo when not root; SKIP_APT=1 skips it.
# Usage: ensure_debian_packages TAG PACKAGE...   (TAG prefixes the messages)
ensure_debian_packages() {
  local tag="$1"
  shift
  [ "${SKIP_APT:-0}" = "1" ] && return 0
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "$tag: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
  local sudo=""
  if [ "$(id -u)" != "0" ]; then
    command -v sudo >/dev/null || { echo "$tag: need root or sudo to install packages" >&2; exit 2; }
    sudo="sudo"
  fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
}
