use std::ffi::CStr;
use typenum::Unsigned;

fn main() {
    // SAFETY: zlibVersion returns a static NUL-terminated string.
    let zlib = unsafe { CStr::from_ptr(libz_sys::zlibVersion()) };
    println!("zlib {} (found by libz-sys's build script through pkg-config)", zlib.to_string_lossy());
    println!("typenum U42 = {} (generated into OUT_DIR by typenum's build script)", typenum::U42::to_u32());
    println!("pid {} via libc", unsafe { libc::getpid() });
    println!("{}", snoop::verdict());
}
