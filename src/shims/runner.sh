#!/bin/sh
# cratebox's runner for cargo (target.<triple>.runner): cargo runs `<this> <binary> <args...>`
# for every test, bench and `cargo run` binary, and for doctests. The binary runs in a container.
if [ -z "${CRATEBOX_SOCKET:-}" ]; then
  echo "error: cratebox's runner was called outside a cratebox run" >&2
  exit 101
fi
if [ -n "${CRATEBOX_CLIENT_BIN:-}" ]; then exec "$CRATEBOX_CLIENT_BIN" --runner "$@"; fi
exec "$CRATEBOX_NODE" "$CRATEBOX_CLIENT" --runner "$@"
