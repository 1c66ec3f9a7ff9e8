#!/bin/sh
# cratebox's RUSTC_WRAPPER. Cargo calls `<this> <rustc> <args...>` for every compilation.
# Anything that is not a build script runs exactly as without cratebox (one exec, no Node).
# A build script is compiled as usual; then its binary is moved aside (<name>.cratebox-real) and
# the sandbox shim (CRATEBOX_SHIM, written by the run from src/core/shim.ts) takes its place with
# the binary's times, so that cargo, when it runs "the build script", runs the shim.
# A user's own wrapper (sccache, ...) is chained: CRATEBOX_USER_RUSTC_WRAPPER.
#
# Cargo passes the arguments in a file (`rustc @argfile`, one argument per line) when the command
# line is too long; a dependency can force that (thousands of features), so @files are read too.

name= out_dir= extra= prev= is_bs=0
scan() {
  case "$prev" in
    --crate-name) name=$1 ;;
    --out-dir) out_dir=$1 ;;
    -C) case "$1" in extra-filename=*) extra=${1#extra-filename=} ;; esac ;;
  esac
  case "$1" in
    -Cextra-filename=*) extra=${1#-Cextra-filename=} ;;
    --out-dir=*) out_dir=${1#--out-dir=} ;;
  esac
  prev=$1
}

case " $* " in
  *" --crate-name build_script_"*) is_bs=1 ;;
  *" @"*)
    for a in "$@"; do
      case "$a" in @*) grep -q '^build_script_' "${a#@}" 2>/dev/null && is_bs=1 ;; esac
    done ;;
esac
if [ "$is_bs" = 0 ]; then
  if [ -n "${CRATEBOX_USER_RUSTC_WRAPPER:-}" ]; then exec "$CRATEBOX_USER_RUSTC_WRAPPER" "$@"; fi
  exec "$@"
fi

for a in "$@"; do
  case "$a" in
    @*) while IFS= read -r line || [ -n "$line" ]; do scan "$line"; done < "${a#@}" ;;
    *) scan "$a" ;;
  esac
done
case "$name" in
  build_script_*) ;;
  *)
    if [ -n "${CRATEBOX_USER_RUSTC_WRAPPER:-}" ]; then exec "$CRATEBOX_USER_RUSTC_WRAPPER" "$@"; fi
    exec "$@" ;;
esac

if [ -n "${CRATEBOX_USER_RUSTC_WRAPPER:-}" ]; then
  "$CRATEBOX_USER_RUSTC_WRAPPER" "$@"
else
  "$@"
fi
rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
# A build script whose output we cannot locate must not stay runnable: fail closed.
if [ -z "$out_dir" ] || [ -z "$name" ]; then
  echo "cratebox: could not tell where rustc wrote the build script $name: refusing to leave it unsandboxed" >&2
  exit 1
fi
bin="$out_dir/$name$extra"
# A check-only or metadata-only compilation writes no executable: nothing to swap.
[ -f "$bin" ] || exit 0
# Fail closed: if any step fails, the build script is missing and cargo stops; it never runs bare.
if mv -f "$bin" "$bin.cratebox-real" &&
   cp "$CRATEBOX_SHIM" "$bin.cratebox-tmp" &&
   touch -r "$bin.cratebox-real" "$bin.cratebox-tmp" &&
   mv -f "$bin.cratebox-tmp" "$bin"; then
  exit 0
fi
echo "cratebox: could not put the sandbox shim in place of $bin" >&2
exit 1
