#!/bin/sh
# cratebox's RUSTC_WRAPPER. Cargo calls `<this> <rustc> <args...>` for every compilation (and
# `<this> <workspace wrapper> <rustc> <args...>` under clippy).
# A call that compiles a crate (cargo sets CARGO_PKG_NAME for those) goes to cratebox, which runs
# it in a sandbox of its own: the crate's proc macros and compile-time reads run in there, and a
# compiled build script is put behind cratebox's shim on its way out. Cargo's own probes
# (`rustc -vV`, `rustc - --print ...`) name no crate and run as they are, through a user's own
# wrapper (sccache, ...) when there is one (CRATEBOX_USER_RUSTC_WRAPPER).
if [ -n "${CARGO_PKG_NAME:-}" ]; then
  if [ -z "${CRATEBOX_SOCKET:-}" ]; then
    echo "error: cratebox's rustc wrapper was called outside a cratebox run" >&2
    exit 101
  fi
  if [ -n "${CRATEBOX_CLIENT_BIN:-}" ]; then exec "$CRATEBOX_CLIENT_BIN" --rustc "$@"; fi
  exec "$CRATEBOX_NODE" "$CRATEBOX_CLIENT" --rustc "$@"
fi
if [ -n "${CRATEBOX_USER_RUSTC_WRAPPER:-}" ]; then exec "$CRATEBOX_USER_RUSTC_WRAPPER" "$@"; fi
exec "$@"
