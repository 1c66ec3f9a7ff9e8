//! The bwrap backend's spawner: one per cratebox run, started by Node the first time a bwrap
//! sandbox runs (src/runtime/sandbox/spawner.ts). Node's child_process forks the whole Node
//! process for every spawn, which took 4 to 8 ms of its main thread per step on the project's
//! machine (issue 13: 1.1 s of a 143-step clean build); this process is small and spawns with
//! posix_spawn (std's Command), in under half a millisecond.
//!
//! Per sandbox it starts bwrap with stdin on /dev/null and stdout and stderr on pipes it relays
//! to Node. With cgroup files it also joins the sandbox to its cgroup before the program runs:
//! bwrap gets `--block-fd` and `--info-fd`, tells the sandbox's pid, and waits; the spawner
//! writes bwrap's pid and the sandbox's into every `cgroup.procs` file, then lets it go. A join
//! that fails kills both, and the program never runs.
//!
//! Protocol, both ways [type: u8][id: u32 BE][length: u32 BE][payload]:
//!   from Node   1 spawn: argv, env ("K=V"), cgroup.procs files, each a count (u32 BE) of
//!                 strings, each string a length (u32 BE) and its bytes
//!               2 kill (SIGKILL to bwrap; it takes its sandbox with it: --die-with-parent)
//!   to Node     1 stdout bytes, 2 stderr bytes
//!               3 started (pid, u32 BE)
//!               4 ended (exit code i32 BE, -1 when a signal ended it; signal number i32 BE),
//!                 sent after both streams are at their end and bwrap is reaped; the last frame
//!               5 could not start (message); the last frame
//!               6 could not join the cgroup (message); an `ended` follows
//! Node's end of stdin ends the spawner, and SIGKILLs what still runs. SIGINT, SIGTERM and
//! SIGHUP are caught and ignored here: Ctrl-C reaches bwrap from the terminal (an exec resets a
//! caught signal), and Node decides when this process ends.
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStringExt;
use std::os::fd::OwnedFd;
use std::os::unix::io::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{self, Child, Command, ExitStatus, Stdio};

#[path = "../sys.rs"]
mod sys;
use sys::*;

extern "C" fn ignore(_: i32) {}

struct Proc {
    child: Child,
    /// stdout and stderr, until each is at its end.
    streams: [Option<File>; 2],
    /// bwrap's --info-fd and what it told, until its end; --block-fd until the join.
    info: Option<File>,
    told: Vec<u8>,
    block: Option<File>,
    procs: Vec<String>,
}

fn inherit(f: &File) {
    unsafe { fcntl(f.as_raw_fd(), F_SETFD, 0) };
}

fn nonblocking(fd: i32) {
    unsafe { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK) };
}

fn send(kind: u8, id: u32, payload: &[u8]) {
    let mut frame = Vec::with_capacity(9 + payload.len());
    frame.push(kind);
    frame.extend_from_slice(&id.to_be_bytes());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    let out = io::stdout();
    let mut out = out.lock();
    if out.write_all(&frame).and_then(|_| out.flush()).is_err() {
        // Node is gone: nothing may run on without it.
        process::exit(1);
    }
}

/// The string lists of a spawn request.
fn lists(mut p: &[u8]) -> Option<Vec<Vec<OsString>>> {
    let mut take = |n: usize| -> Option<&[u8]> {
        if p.len() < n {
            return None;
        }
        let (a, b) = p.split_at(n);
        p = b;
        Some(a)
    };
    let mut out = Vec::new();
    for _ in 0..3 {
        let count = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
        let mut list = Vec::with_capacity(count);
        for _ in 0..count {
            let len = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
            list.push(OsString::from_vec(take(len)?.to_vec()));
        }
        out.push(list);
    }
    Some(out)
}

fn start(id: u32, payload: &[u8]) -> Result<Proc, String> {
    let l = lists(payload).ok_or("a spawn request the spawner cannot read")?;
    let (argv, env, procs) = (&l[0], &l[1], &l[2]);
    if argv.is_empty() {
        return Err("a spawn request without a program".into());
    }
    let mut cmd = Command::new(&argv[0]);
    let mut joined: Option<(File, File, File, File)> = None;
    if !procs.is_empty() {
        let (info_r, info_w) = pipe().map_err(|e| e.to_string())?;
        let (block_r, block_w) = pipe().map_err(|e| e.to_string())?;
        cmd.arg("--block-fd").arg(block_r.as_raw_fd().to_string()).arg("--info-fd").arg(info_w.as_raw_fd().to_string());
        joined = Some((info_r, info_w, block_r, block_w));
    }
    cmd.args(&argv[1..]).env_clear().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for kv in env {
        let kv = kv.as_encoded_bytes();
        let at = kv.iter().position(|&b| b == b'=').unwrap_or(kv.len());
        cmd.env(
            OsString::from_vec(kv[..at].to_vec()),
            OsString::from_vec(kv.get(at + 1..).unwrap_or_default().to_vec()),
        );
    }
    // bwrap's ends of the two pipes are inherited by this spawn only: nothing else is spawned
    // between here and their close below (one thread), and every other descriptor closes on exec.
    if let Some((_, info_w, block_r, _)) = &joined {
        inherit(info_w);
        inherit(block_r);
    }
    let spawned = cmd.spawn();
    let (info, block) = match joined {
        Some((info_r, info_w, block_r, block_w)) => {
            drop((info_w, block_r));
            (Some(info_r), Some(block_w))
        }
        None => (None, None),
    };
    let mut child = spawned.map_err(|e| format!("{}: {}", argv[0].to_string_lossy(), e))?;
    let streams = [child.stdout.take().map(|s| File::from(OwnedFd::from(s))), child.stderr.take().map(|s| File::from(OwnedFd::from(s)))];
    for s in streams.iter().flatten() {
        nonblocking(s.as_raw_fd());
    }
    if let Some(i) = &info {
        nonblocking(i.as_raw_fd());
    }
    send(3, id, &child.id().to_be_bytes());
    Ok(Proc { child, streams, info, told: Vec::new(), block, procs: procs.iter().map(|p| p.to_string_lossy().into_owned()).collect() })
}

/// bwrap told its sandbox's pid (or ended before it could): join both to the cgroup, then let
/// the sandbox go. Err: the join failed, both are killed, the block is never let go.
fn join(p: &mut Proc) -> Result<(), String> {
    let text = String::from_utf8_lossy(&p.told).into_owned();
    if text.trim().is_empty() {
        // bwrap failed or was killed before it told: its exit says why. The block stays until
        // bwrap is reaped, so a sandbox it made has had its --die-with-parent signal first.
        return Ok(());
    }
    let pid = text
        .find("\"child-pid\"")
        .and_then(|at| text[at + 11..].trim_start().strip_prefix(':'))
        .map(|rest| rest.trim_start())
        .and_then(|rest| rest[..rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len())].parse::<i32>().ok());
    let result = match pid {
        None => Err(format!("bwrap told no sandbox pid ({})", text.trim().chars().take(80).collect::<String>())),
        Some(pid) => p.procs.iter().try_for_each(|file| {
            let mut f = OpenOptions::new().write(true).open(file).map_err(|e| format!("{}: {}", file, e))?;
            f.write_all(p.child.id().to_string().as_bytes()).map_err(|e| format!("{}: {}", file, e))?;
            f.write_all(pid.to_string().as_bytes()).map_err(|e| format!("{}: {}", file, e))
        }),
    };
    match result {
        Ok(()) => {
            let _ = p.block.take().map(|mut b| b.write_all(b"x"));
            Ok(())
        }
        Err(e) => {
            if let Some(pid) = pid {
                unsafe { kill(pid, SIGKILL) };
            }
            let _ = p.child.kill();
            Err(e)
        }
    }
}

fn ended(status: ExitStatus) -> [u8; 8] {
    let code = status.code().unwrap_or(-1);
    let sig = status.signal().unwrap_or(0);
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&code.to_be_bytes());
    out[4..].copy_from_slice(&sig.to_be_bytes());
    out
}

fn main() {
    // Nothing the user's environment left open goes into a sandbox: bwrap passes on every
    // descriptor that is not close-on-exec, and the program inside would hold it.
    close_on_exec_from(3);
    for sig in [1, 2, 15] {
        unsafe { signal(sig, ignore as *const () as usize) };
    }
    let mut live: HashMap<u32, Proc> = HashMap::new();
    let mut stdin = Some(io::stdin());
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // What to wait on: Node's requests, every stream, every info pipe.
        let mut fds = Vec::new();
        let mut owners = Vec::new(); // (id, 0 stdout | 1 stderr | 2 info); u32::MAX: stdin
        if stdin.is_some() {
            fds.push(PollFd { fd: 0, events: POLLIN, revents: 0 });
            owners.push((u32::MAX, 0));
        }
        let mut draining = false;
        for (&id, p) in &live {
            for (k, s) in p.streams.iter().enumerate() {
                if let Some(s) = s {
                    fds.push(PollFd { fd: s.as_raw_fd(), events: POLLIN, revents: 0 });
                    owners.push((id, k));
                }
            }
            if let Some(i) = &p.info {
                fds.push(PollFd { fd: i.as_raw_fd(), events: POLLIN, revents: 0 });
                owners.push((id, 2));
            }
            if p.streams.iter().all(Option::is_none) && p.info.is_none() {
                draining = true;
            }
        }
        if stdin.is_none() {
            // Node is gone or done: nothing runs on without it.
            for p in live.values_mut() {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
            process::exit(0);
        }
        // Streams at their end, bwrap not yet reaped: look again soon.
        let n = unsafe { poll(fds.as_mut_ptr(), fds.len() as _, if draining { 2 } else { -1 }) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            eprintln!("cratebox-spawner: poll: {}", err);
            process::exit(1);
        }
        for (pfd, &(id, k)) in fds.iter().zip(&owners) {
            if pfd.revents == 0 {
                continue;
            }
            if id == u32::MAX {
                match io::stdin().lock().read(&mut buf) {
                    Ok(0) | Err(_) => stdin = None,
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                }
                continue;
            }
            let Some(p) = live.get_mut(&id) else { continue };
            let slot = if k == 2 { &mut p.info } else { &mut p.streams[k] };
            let Some(f) = slot.as_mut() else { continue };
            match f.read(&mut buf) {
                Ok(0) => *slot = None,
                Ok(n) if k == 2 => p.told.extend_from_slice(&buf[..n]),
                Ok(n) => send(k as u8 + 1, id, &buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => *slot = None,
            }
            if k == 2 && p.info.is_none() {
                if let Err(message) = join(p) {
                    send(6, id, message.as_bytes());
                }
            }
        }
        // Node's requests, whole ones only.
        while pending.len() >= 9 {
            let len = u32::from_be_bytes(pending[5..9].try_into().unwrap()) as usize;
            if pending.len() < 9 + len {
                break;
            }
            let id = u32::from_be_bytes(pending[1..5].try_into().unwrap());
            let kind = pending[0];
            let payload: Vec<u8> = pending[9..9 + len].to_vec();
            pending.drain(..9 + len);
            match kind {
                1 => match start(id, &payload) {
                    Ok(p) => {
                        live.insert(id, p);
                    }
                    Err(message) => send(5, id, message.as_bytes()),
                },
                2 => {
                    if let Some(p) = live.get_mut(&id) {
                        let _ = p.child.kill();
                    }
                }
                _ => {
                    eprintln!("cratebox-spawner: a request of unknown type {}", kind);
                    process::exit(1);
                }
            }
        }
        // Ended: both streams at their end, the info told, bwrap reaped.
        let done: Vec<u32> = live
            .iter_mut()
            .filter(|(_, p)| p.streams.iter().all(Option::is_none) && p.info.is_none())
            .filter_map(|(&id, p)| match p.child.try_wait() {
                Ok(Some(status)) => {
                    send(4, id, &ended(status));
                    Some(id)
                }
                Ok(None) => None,
                Err(_) => {
                    send(4, id, &ended(ExitStatus::from_raw(SIGKILL)));
                    Some(id)
                }
            })
            .collect();
        for id in done {
            live.remove(&id);
        }
    }
}
