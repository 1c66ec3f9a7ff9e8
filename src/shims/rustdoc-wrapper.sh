#!/bin/sh
# cratebox's RUSTDOC. Cargo runs `<this> <args...>` to document a crate (`cargo doc`) and to
# compile and run its doctests (`cargo test`); rustdoc runs the crate's proc macros, so each
# call goes to cratebox and runs in a sandbox of its own. Doctests run inside that sandbox too.
# The rustdoc to run: the user's own (CRATEBOX_USER_RUSTDOC), else the toolchain's.
rustdoc=${CRATEBOX_USER_RUSTDOC:-rustdoc}
case " $* " in
  *" -vV "* | *" -V "* | *" --version "*) exec "$rustdoc" "$@" ;;
esac
if [ -z "${CRATEBOX_SOCKET:-}" ]; then
  echo "error: cratebox's rustdoc wrapper was called outside a cratebox run" >&2
  exit 101
fi
if [ -n "${CRATEBOX_CLIENT_BIN:-}" ]; then exec "$CRATEBOX_CLIENT_BIN" --rustdoc "$rustdoc" "$@"; fi
exec "$CRATEBOX_NODE" "$CRATEBOX_CLIENT" --rustdoc "$rustdoc" "$@"
