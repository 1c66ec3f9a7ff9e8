#!/bin/sh
# cratebox's RUSTC_WRAPPER. Cargo calls `<this> <rustc> <args...>` for every compilation.
# Anything that is not a build script runs exactly as without cratebox (one exec, no Node).
# A build script is compiled as usual; then its binary is moved aside (<name>.cratebox-real) and
# the sandbox shim (CRATEBOX_SHIM, written by the run from src/core/shim.ts) takes its place with
# the binary's times, so that cargo, when it runs "the build script", runs the shim.
# A user's own wrapper (sccache, ...) is chained: CRATEBOX_USER_RUSTC_WRAPPER.

case " $* " in
  *" --crate-name build_script_"*) ;;
  *)
    if [ -n "${CRATEBOX_USER_RUSTC_WRAPPER:-}" ]; then exec "$CRATEBOX_USER_RUSTC_WRAPPER" "$@"; fi
    exec "$@" ;;
esac

name= out_dir= extra= prev=
for a in "$@"; do
  case "$prev" in
    --crate-name) name=$a ;;
    --out-dir) out_dir=$a ;;
    -C) case "$a" in extra-filename=*) extra=${a#extra-filename=} ;; esac ;;
  esac
  case "$a" in
    -Cextra-filename=*) extra=${a#-Cextra-filename=} ;;
    --out-dir=*) out_dir=${a#--out-dir=} ;;
  esac
  prev=$a
done

if [ -n "${CRATEBOX_USER_RUSTC_WRAPPER:-}" ]; then
  "$CRATEBOX_USER_RUSTC_WRAPPER" "$@"
else
  "$@"
fi
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
bin="$out_dir/$name$extra"
# A check-only or metadata-only compilation writes no executable: nothing to swap.
[ -n "$out_dir" ] && [ -f "$bin" ] || exit 0
# Fail closed: if any step fails, the build script is missing and cargo stops; it never runs bare.
if mv -f "$bin" "$bin.cratebox-real" &&
   cp "$CRATEBOX_SHIM" "$bin.cratebox-tmp" &&
   touch -r "$bin.cratebox-real" "$bin.cratebox-tmp" &&
   mv -f "$bin.cratebox-tmp" "$bin"; then
  exit 0
fi
echo "cratebox: could not put the sandbox shim in place of $bin" >&2
exit 1
