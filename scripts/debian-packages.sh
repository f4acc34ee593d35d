# Sourced by scripts/serve and scripts/test: install the Debian packages that are missing, once.
#   want_command ffmpeg ffmpeg      # the package to install when the command is not on PATH (or in /usr/sbin)
#   want_library libmagic.so.1 libmagic1   # ... when the shared library is not in ldconfig's cache
#   install_wanted || ...           # apt-get (with sudo when not root); fails with the reason in $install_error
wanted_packages=()
install_error=""

want_command() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || wanted_packages+=("$2")
}

want_library() {
  # not grep -q: with pipefail its early exit fails the pipe
  # ldconfig is in /sbin, which a user's PATH may lack
  { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -F "$1" >/dev/null || wanted_packages+=("$2")
}

install_wanted() {
  [ ${#wanted_packages[@]} -gt 0 ] || return 0
  local sudo="" output
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { install_error="not root and no sudo"; return 1; }
    sudo="sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || { install_error="no apt-get on this machine"; return 1; }
  echo "installing ${wanted_packages[*]} with apt-get"
  if ! output="$({ $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        $sudo apt-get install -y -qq --no-install-recommends "${wanted_packages[@]}"; } 2>&1)"; then
    install_error="$(printf '%s\n' "$output" | grep -E '^(E:|sudo:)' | tail -n 1)"
    install_error="${install_error:-apt-get failed}"
    return 1
  fi
}
