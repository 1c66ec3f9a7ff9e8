//! The few libc calls and constants the native helpers make without the libc crate (they build
//! offline, with no dependencies): `#[path = "../sys.rs"] mod sys;` in each program.
#![allow(dead_code)]
use std::fs::File;
use std::io;
use std::os::unix::io::FromRawFd;

#[repr(C)]
pub struct PollFd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}

extern "C" {
    pub fn poll(fds: *mut PollFd, n: std::os::raw::c_ulong, timeout: i32) -> i32;
    pub fn pipe2(fds: *mut i32, flags: i32) -> i32;
    pub fn fcntl(fd: i32, cmd: i32, arg: i32) -> i32;
    pub fn dup2(old: i32, new: i32) -> i32;
    pub fn close(fd: i32) -> i32;
    pub fn kill(pid: i32, sig: i32) -> i32;
    pub fn signal(sig: i32, handler: usize) -> usize;
    pub fn write(fd: i32, buf: *const u8, n: usize) -> isize;
    pub fn getuid() -> u32;
}

pub const POLLIN: i16 = 0x1;
pub const O_CLOEXEC: i32 = 0o2000000;
pub const O_NONBLOCK: i32 = 0o4000;
pub const O_NOFOLLOW: i32 = 0o400000;
pub const F_DUPFD: i32 = 0;
pub const F_SETFD: i32 = 2;
pub const F_GETFL: i32 = 3;
pub const F_SETFL: i32 = 4;
pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;
pub const SIGCHLD: i32 = 17;

pub const FD_CLOEXEC: i32 = 1;

/// Marks every descriptor from `min` up close-on-exec: what this process inherited beyond its
/// standard streams (a shell's, a CI runner's, a make jobserver's) reaches none of its children.
pub fn close_on_exec_from(min: i32) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<i32> = dir.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).filter(|&fd| fd >= min).collect();
    for fd in fds {
        unsafe { fcntl(fd, F_SETFD, FD_CLOEXEC) };
    }
}

/// A pipe whose ends close on exec: (read, write).
pub fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0i32; 2];
    if unsafe { pipe2(fds.as_mut_ptr(), O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}
