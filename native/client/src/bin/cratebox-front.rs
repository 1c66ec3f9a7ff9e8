//! cratebox's front (issue 13): the first program of a `cratebox ... cargo build|check ...` when
//! set-up built it (bin/cratebox execs it instead of Node). Node's own start is most of what a
//! no-op build costs on top of cargo, and a no-op runs no step: nothing there needs Node.
//!
//! Node decides, the front replays. Every run Node makes records what it decided before cargo's
//! spawn in a ticket (src/runtime/ticket.ts, format in src/core/ticket.ts): the run it was (the
//! arguments, the directory, a fingerprint of the environment, of `cargo metadata`'s answer),
//! the files it decided from with their stamps, what it printed, and cargo's program, arguments
//! and environment. When the same run comes again and nothing it was decided from changed, the
//! front does what Node would do before cargo's spawn: it checks that every compiled build script
//! in the build directories is cratebox's shim (as src/runtime/swap.ts; anything else and Node
//! runs instead, which swaps it), makes the run's private directory and socket, prints the
//! recorded lines and starts cargo. Node starts only when cargo's first step connects to the
//! socket: it takes over the socket (fd 3), decides the grants anew (from its caches) and runs
//! the steps; the front tells it cargo's exit status on fd 4 and ends with Node's exit code.
//! When no step comes, the front prints the recorded summary and ends with cargo's code.
//!
//! A ticket is taken only when it is this user's own file (the cache key too), and only when what
//! it says to start is what Node starts for this install (check_cargo): cargo with cratebox's own
//! wrappers, client and shim. Anything the front cannot vouch for (no ticket, a stamp that
//! changed, CI, a build script that is not the shim, an unreadable answer) execs Node as
//! bin/cratebox would have, with bin/cratebox's early answer untouched (once the front has taken
//! it, a failure to set the run up still goes to Node, which asks cargo again).
//! `CRATEBOX_FRONT_LOG=<file>` appends what the front did, for tests.
//!
//! Arguments: <node> <cratebox.js> <cratebox's own arguments...>
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::os::unix::net::UnixListener;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{self, Child, Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};

#[path = "../sys.rs"]
mod sys;
use sys::*;

/// cratebox's exit code for an interrupted run (src/core/errors.ts EXIT.INTERRUPTED).
const INTERRUPTED: i32 = 130;

static WAKE: AtomicI32 = AtomicI32::new(-1);
static CAUGHT: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: i32) {
    if sig != SIGCHLD {
        CAUGHT.store(sig, Ordering::Relaxed);
    }
    let fd = WAKE.load(Ordering::Relaxed);
    if fd >= 0 {
        unsafe { write(fd, b"x".as_ptr(), 1) };
    }
}

/// src/core/fingerprint.ts: two 32-bit FNV-1a-style lanes over UTF-16 code units.
struct Fingerprint {
    a: u32,
    b: u32,
}

impl Fingerprint {
    fn new() -> Self {
        Fingerprint { a: 0x811c9dc5, b: 0x01000193 ^ 0x5bd1e995 }
    }
    fn update(&mut self, text: &str) -> &mut Self {
        for c in text.encode_utf16() {
            let c = c as u32;
            self.a = (self.a ^ c).wrapping_mul(0x01000193);
            self.b = (self.b ^ c).wrapping_mul(0x5bd1e995) ^ (self.b >> 15);
        }
        self
    }
    fn digest(&self) -> String {
        format!("{:08x}{:08x}", self.a, self.b)
    }
}

fn lossy(s: &OsStr) -> String {
    s.to_string_lossy().into_owned()
}

/// Variables that are not part of a run's question (src/core/ticket.ts isIgnoredVariable).
fn env_ignored(name: &str) -> bool {
    name.starts_with("CRATEBOX_EARLY") || name == "_" || name == "OLDPWD"
}

/// src/core/ticket.ts envDigest: the secret, then `K=V\0` for every variable, by UTF-16 order of K.
fn env_digest(secret: &str, env: &[(String, String)]) -> String {
    let mut vars: Vec<&(String, String)> = env.iter().filter(|(k, _)| !env_ignored(k)).collect();
    vars.sort_by(|x, y| x.0.encode_utf16().cmp(y.0.encode_utf16()));
    let mut f = Fingerprint::new();
    f.update(secret);
    for (k, v) in vars {
        f.update(k).update("=").update(v).update("\0");
    }
    f.digest()
}

/// src/runtime/cache-files.ts stampOf: device, inode, size, mtime and ctime in ns; "-" when missing.
fn stamp_of(path: &Path) -> String {
    match fs::metadata(path) {
        Ok(m) => format!(
            "{}:{}:{}:{}:{}",
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
            m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128
        ),
        Err(_) => "-".into(),
    }
}

struct Ticket {
    roots: Vec<(String, String)>,
    stamps: Vec<(String, String)>,
    realpaths: Vec<(String, String)>,
    program: String,
    args: Vec<String>,
    set: Vec<(String, String)>,
    unset: Vec<String>,
    say: Vec<String>,
    after: Vec<String>,
    fields: Vec<(String, String)>,
    argv: Vec<String>,
}

/// Parses src/core/ticket.ts's format: NUL-terminated fields, each record a tag and its fields.
fn parse_ticket(bytes: &[u8]) -> Option<Ticket> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut it = text.split('\0');
    if it.next()? != "cratebox-ticket 1" {
        return None;
    }
    let mut t = Ticket {
        roots: vec![],
        stamps: vec![],
        realpaths: vec![],
        program: String::new(),
        args: vec![],
        set: vec![],
        unset: vec![],
        say: vec![],
        after: vec![],
        fields: vec![],
        argv: vec![],
    };
    let mut next = || it.next().map(str::to_owned);
    // A count, then that many fields.
    let list = |next: &mut dyn FnMut() -> Option<String>| -> Option<Vec<String>> {
        let n: usize = next()?.parse().ok()?;
        (0..n).map(|_| next()).collect()
    };
    loop {
        let tag = next()?;
        match tag.as_str() {
            "secret" | "build" | "cwd" | "env" | "meta" => {
                let v = next()?;
                t.fields.push((tag, v));
            }
            "argv" => t.argv = list(&mut next)?,
            "root" => {
                let raw = next()?;
                t.roots.push((raw, next()?));
            }
            "stamp" => {
                let p = next()?;
                t.stamps.push((p, next()?));
            }
            "real" => {
                let p = next()?;
                t.realpaths.push((p, next()?));
            }
            "cargo" => {
                t.program = next()?;
                t.args = list(&mut next)?;
            }
            "set" => {
                let k = next()?;
                t.set.push((k, next()?));
            }
            "unset" => t.unset.push(next()?),
            "say" => t.say.push(next()?),
            "after" => t.after.push(next()?),
            "end" => return Some(t),
            _ => return None,
        }
    }
}

impl Ticket {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Build scripts as rustc names them: `build_script_<name>-<16 hex>` (src/core/shim.ts).
fn is_build_script_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("build_script_") else { return false };
    let Some(dash) = rest.rfind('-') else { return false };
    let (stem, hash) = (&rest[..dash], &rest[dash + 1..]);
    !stem.is_empty()
        && stem.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether the file is byte for byte the shim (opened without blocking: a FIFO is not).
fn is_shim(path: &Path, shim: &[u8]) -> bool {
    let Ok(mut f) = OpenOptions::new().read(true).custom_flags(O_NONBLOCK).open(path) else { return false };
    let Ok(m) = f.metadata() else { return false };
    if !m.is_file() || m.len() != shim.len() as u64 {
        return false;
    }
    let mut bytes = Vec::with_capacity(shim.len());
    f.read_to_end(&mut bytes).is_ok() && bytes == shim
}

/// Directories below `d`, and links to directories (cargo builds through a linked `debug/`).
fn dirs_in(d: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(d) else { return vec![] };
    entries
        .flatten()
        .filter(|e| match e.file_type() {
            Ok(t) if t.is_dir() => true,
            Ok(t) if t.is_symlink() => fs::metadata(e.path()).map(|m| m.is_dir()).unwrap_or(false),
            _ => false,
        })
        .map(|e| e.path())
        .collect()
}

/// src/runtime/swap.ts swapExisting, checking only: the first compiled build script (or cargo's
/// copy of it) that is not the shim, which Node must then put behind it.
fn unshimmed(root: &Path, shim: &[u8]) -> Option<PathBuf> {
    for a in dirs_in(root) {
        if a.join("CACHEDIR.TAG").exists() {
            continue;
        }
        let mut profiles = vec![a.clone()];
        profiles.extend(dirs_in(&a));
        for b in profiles {
            for pkg in dirs_in(&b.join("build")) {
                let Ok(entries) = fs::read_dir(&pkg) else { continue };
                for e in entries.flatten() {
                    let name = e.file_name();
                    let Some(name) = name.to_str() else { continue };
                    if !is_build_script_name(name) {
                        continue;
                    }
                    let bin = pkg.join(name);
                    if !is_shim(&bin, shim) {
                        return Some(bin);
                    }
                    let stem = &name["build_script_".len()..name.len() - 17];
                    let uplifted = pkg.join(format!("build-script-{stem}"));
                    if let Ok(link) = fs::metadata(&uplifted) {
                        let same = fs::metadata(&bin).map(|m| m.dev() == link.dev() && m.ino() == link.ino()).unwrap_or(false);
                        if !same && !is_shim(&uplifted, shim) {
                            return Some(uplifted);
                        }
                    }
                }
            }
        }
    }
    None
}

/// /proc/<pid>/stat's fields after the command name: [0] state, [1] parent, [19] start time.
fn proc_stat(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split(' ').map(str::to_owned).collect())
}

/// bin/cratebox's early answer (src/runtime/shell-asked.ts): the metadata's output, once its job ended.
fn early_metadata(file: &Path, job: u32) -> Result<String, String> {
    loop {
        let st = proc_stat(job).ok_or("the early job is gone")?;
        if st.get(1).map(String::as_str) != Some(&process::id().to_string()) {
            return Err("the early job is not this process's".into());
        }
        if st[0] == "Z" || st[0] == "X" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let bytes = read_own(file).ok_or("no early answer of this user's own")?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let at = text.find("\n#cratebox-early ").ok_or("the early answer is cut short")?;
    let status: String = text[at + 17..].chars().take_while(|c| c.is_ascii_digit()).collect();
    if status != "0" {
        return Err(format!("the early `cargo metadata` failed ({status})"));
    }
    Ok(text[..at].to_owned())
}

/// Where Node put this run's ticket: `<cache>/cratebox/tickets/<fingerprint>` (src/core/ticket.ts ticketName).
fn ticket_name(secret: &str, cwd: &str, argv: &[String]) -> String {
    let mut f = Fingerprint::new();
    f.update(secret).update("\0").update(cwd);
    for a in argv {
        f.update("\0").update(a);
    }
    f.digest()
}

struct Plan {
    ticket: Ticket,
    early: PathBuf,
    metadata: String,
    shim: Vec<u8>,
    env: Vec<(OsString, OsString)>,
}

/// A file of this user's own that nobody else can write, read without following a link: the
/// cache key and a ticket.
fn read_own(path: &Path) -> Option<Vec<u8>> {
    let mut f = OpenOptions::new().read(true).custom_flags(O_NOFOLLOW | O_NONBLOCK).open(path).ok()?;
    let m = f.metadata().ok()?;
    if !m.is_file() || m.uid() != unsafe { getuid() } || m.mode() & 0o077 != 0 {
        return None;
    }
    let mut bytes = vec![];
    f.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

/// A program as exec would find it: a path with a slash as it is, else the first on PATH.
fn on_path(program: &OsStr, env: &[(OsString, OsString)]) -> Option<PathBuf> {
    if program.as_encoded_bytes().contains(&b'/') {
        return fs::canonicalize(program).ok();
    }
    let path = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v.clone())?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|c| c.is_file()).and_then(|c| fs::canonicalize(c).ok())
}

/// What the ticket says to start is what src/runtime/run-cargo.ts starts for this install: cargo
/// ($CARGO or `cargo`) with cratebox's own wrappers, client and shim, and nothing else. A ticket
/// is this user's own and keyed, and still: it never names another program or variable.
fn check_cargo(t: &Ticket, root: &Path, node: &OsStr, env: &[(OsString, OsString)]) -> Result<(), String> {
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| lossy(v));
    if t.program != var("CARGO").unwrap_or_else(|| "cargo".into()) {
        return Err("the ticket names another cargo".into());
    }
    let under = |rel: &str| lossy(root.join(rel).as_os_str());
    let node = on_path(node, env).map(|n| lossy(n.as_os_str()));
    for (k, v) in &t.set {
        let expected = match k.as_str() {
            "RUSTC_WRAPPER" => Some(under("src/shims/rustc-wrapper.sh")),
            "RUSTDOC" => Some(under("src/shims/rustdoc-wrapper.sh")),
            "CRATEBOX_CLIENT" => Some(under("dist/shims/client.js")),
            "CRATEBOX_CLIENT_BIN" => Some(under("dist/native/cratebox-client")),
            "CRATEBOX_SOCKET" => Some("@run/run.sock".into()),
            "CRATEBOX_SHIM" => Some("@run/build-script-shim".into()),
            "CRATEBOX_NODE" => node.clone(),
            "CRATEBOX_USER_RUSTDOC" => var("RUSTDOC"),
            // From RUSTC_WRAPPER, CARGO_BUILD_RUSTC_WRAPPER or cargo's configuration files (stamped).
            "CRATEBOX_USER_RUSTC_WRAPPER" => Some(v.clone()),
            _ => None,
        };
        if expected.as_deref() != Some(v.as_str()) {
            return Err(format!("the ticket sets {k} otherwise"));
        }
    }
    let may_unset = ["CARGO_BUILD_RUSTC_WRAPPER", "CARGO_BUILD_RUSTDOC", "CRATEBOX_USER_RUSTDOC", "CRATEBOX_USER_RUSTC_WRAPPER"];
    if let Some(k) = t.unset.iter().find(|k| !may_unset.contains(&k.as_str())) {
        return Err(format!("the ticket unsets {k}"));
    }
    Ok(())
}

fn plan(argv: &[String], root: &Path, node: &OsStr) -> Result<Plan, String> {
    let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| lossy(v)).filter(|v| !v.is_empty());
    if var("CI").is_some() {
        return Err("CI: no tickets".into());
    }
    let early = PathBuf::from(var("CRATEBOX_EARLY").ok_or("no early answer")?);
    let job: u32 = var("CRATEBOX_EARLY_JOB").and_then(|j| j.parse().ok()).ok_or("no early job")?;
    let cache = match var("XDG_CACHE_HOME") {
        Some(c) => PathBuf::from(c),
        None => PathBuf::from(var("HOME").ok_or("no HOME")?).join(".cache"),
    };
    let key = read_own(&cache.join("cratebox/cache-key")).ok_or("no cache key of this user's own")?;
    let secret = String::from_utf8_lossy(&key).trim().to_owned();
    if secret.len() != 32 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("no cache key".into());
    }
    let cwd = lossy(std::env::current_dir().map_err(|_| "no working directory")?.as_os_str());
    let name = ticket_name(&secret, &cwd, argv);
    let bytes = read_own(&cache.join("cratebox/tickets").join(&name)).ok_or("no ticket")?;
    let ticket = parse_ticket(&bytes).ok_or("a ticket the front cannot read")?;
    let build = fs::read_to_string(root.join("dist/build-id")).map_err(|_| "no build id")?;
    let same = |field: &str, value: &str| ticket.field(field) == Some(value);
    if !same("secret", &secret) || !same("build", build.trim()) || !same("cwd", &cwd) || ticket.argv != argv {
        return Err("another run's ticket".into());
    }
    for (path, stamp) in &ticket.stamps {
        if stamp_of(Path::new(path)) != *stamp {
            return Err(format!("{path} changed"));
        }
    }
    for (path, real) in &ticket.realpaths {
        let now = fs::canonicalize(path).map(|r| lossy(r.as_os_str())).unwrap_or_else(|_| "-".into());
        if now != *real {
            return Err(format!("{path} resolves otherwise"));
        }
    }
    let strings: Vec<(String, String)> = env.iter().map(|(k, v)| (lossy(k), lossy(v))).collect();
    if !same("env", &env_digest(&secret, &strings)) {
        return Err("the environment changed".into());
    }
    let metadata = early_metadata(&early, job)?;
    if !same("meta", &Fingerprint::new().update(&metadata).digest()) {
        return Err("`cargo metadata` answers otherwise".into());
    }
    let shim = fs::read(root.join("dist/shims/build-script-shim")).map_err(|_| "no shim")?;
    for (raw, real) in &ticket.roots {
        let now = fs::canonicalize(raw).map_err(|_| format!("{raw} is gone"))?;
        if now.as_os_str() != OsStr::new(real) {
            return Err(format!("{raw} is elsewhere now"));
        }
        if let Some(bin) = unshimmed(Path::new(real), &shim) {
            return Err(format!("{} is not cratebox's shim", bin.display()));
        }
    }
    check_cargo(&ticket, root, node, &env)?;
    let env = env.into_iter().filter(|(k, _)| !lossy(k).starts_with("CRATEBOX_EARLY")).collect();
    Ok(Plan { ticket, early, metadata, shim, env })
}

fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    if let Ok(mut f) = File::open("/dev/urandom") {
        let _ = f.read_exact(&mut bytes);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The run's private directory, named as src/runtime/sweep.ts expects: `cratebox-run-<start>-<pid>-<random>`.
fn run_dir() -> std::io::Result<PathBuf> {
    // As Node's os.tmpdir(): TMPDIR, TMP, TEMP, else /tmp (sweep.ts looks there).
    let tmp = ["TMPDIR", "TMP", "TEMP"].iter().find_map(|v| std::env::var_os(v).filter(|t| !t.is_empty())).unwrap_or_else(|| "/tmp".into());
    let mut tmp = tmp.into_vec();
    while tmp.len() > 1 && tmp.last() == Some(&b'/') {
        tmp.pop();
    }
    let start = proc_stat(process::id()).and_then(|s| s.get(19).cloned()).unwrap_or_else(|| "0".into());
    loop {
        let dir = PathBuf::from(OsString::from_vec(tmp.clone())).join(format!("cratebox-run-{start}-{}-{}", process::id(), random_hex(3)));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

struct Log(Option<PathBuf>);

impl Log {
    fn say(&self, what: &str) {
        if let Some(file) = &self.0 {
            if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(file) {
                let _ = writeln!(f, "{what}");
            }
        }
    }
}

fn node_command(node: &OsStr, script: &OsStr, args: &[OsString]) -> Command {
    let mut c = Command::new(node);
    c.arg0(node).arg("--min-semi-space-size=2").arg(script).args(args);
    c
}

fn main() {
    let mut args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.len() < 2 {
        eprintln!("cratebox-front: usage: cratebox-front <node> <cratebox.js> <arguments...>");
        process::exit(2);
    }
    let node = args.remove(0);
    let script = args.remove(0);
    let log = Log(std::env::var_os("CRATEBOX_FRONT_LOG").map(PathBuf::from));
    // dist/native/cratebox-front: the package's root is two directories up.
    let root = std::env::current_exe().ok().and_then(|e| Some(e.parent()?.parent()?.parent()?.to_owned()));
    // The run's question: the entry (`cratebox.js` or `cargo-cratebox.js`) and its arguments.
    let entry = Path::new(&script).file_name().map(|e| e.to_os_string()).unwrap_or_default();
    let strings: Option<Vec<String>> = std::iter::once(&entry).chain(args.iter()).map(|a| a.to_str().map(str::to_owned)).collect();
    let planned = match (&root, &strings) {
        (Some(root), Some(argv)) => plan(argv, root, &node),
        _ => Err("arguments or install the front cannot read".into()),
    };
    match planned {
        Ok(p) => run(p, &node, &script, &args, &log),
        Err(reason) => {
            log.say(&format!("node: {reason}"));
            let err = node_command(&node, &script, &args).exec();
            eprintln!("cratebox: cannot start {} ({err})", node.to_string_lossy());
            process::exit(2);
        }
    }
}

/// Node instead, before cargo started (the early answer is taken: Node asks cargo again).
fn to_node(p: &Plan, node: &OsStr, script: &OsStr, args: &[OsString], log: &Log, dir: Option<&Path>, why: String) -> ! {
    if let Some(dir) = dir {
        let _ = fs::remove_dir_all(dir);
    }
    log.say(&format!("node: {why}"));
    let err = node_command(node, script, args).env_clear().envs(p.env.iter().cloned()).exec();
    eprintln!("cratebox: cannot start {} ({err})", node.to_string_lossy());
    process::exit(2);
}

/// The run's directory with the shim template and the listening socket, and the wake-up pipe.
fn set_up(p: &Plan) -> Result<(PathBuf, UnixListener, File, File), (Option<PathBuf>, String)> {
    let dir = run_dir().map_err(|e| (None, format!("cannot make the run's directory ({e})")))?;
    let fail = |what: String| (Some(dir.clone()), what);
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o755)
        .open(dir.join("build-script-shim"))
        .and_then(|mut f| f.write_all(&p.shim))
        .map_err(|e| fail(format!("cannot write the shim ({e})")))?;
    let listener = UnixListener::bind(dir.join("run.sock")).map_err(|e| fail(format!("cannot listen on the run's socket ({e})")))?;
    let (wake_r, wake_w) = pipe().map_err(|e| fail(format!("cannot make a pipe ({e})")))?;
    // A signal handler never waits on it.
    unsafe { fcntl(wake_w.as_raw_fd(), F_SETFL, fcntl(wake_w.as_raw_fd(), F_GETFL, 0) | O_NONBLOCK) };
    Ok((dir, listener, wake_r, wake_w))
}

/// Waits for a wake-up (a signal, a child's end, a connection), at most a second.
fn wait_for(wake: &File, extra: Option<&UnixListener>) -> bool {
    let mut fds = vec![PollFd { fd: wake.as_raw_fd(), events: POLLIN, revents: 0 }];
    if let Some(l) = extra {
        fds.push(PollFd { fd: l.as_raw_fd(), events: POLLIN, revents: 0 });
    }
    unsafe { poll(fds.as_mut_ptr(), fds.len() as _, 1000) };
    if fds[0].revents != 0 {
        let mut buf = [0u8; 64];
        let _ = (&*wake).read(&mut buf);
    }
    fds.get(1).is_some_and(|f| f.revents != 0)
}

fn stop(cargo: &mut Child) {
    unsafe { kill(cargo.id() as i32, SIGTERM) };
    let _ = cargo.wait();
}

fn run(p: Plan, node: &OsStr, script: &OsStr, args: &[OsString], log: &Log) -> ! {
    let _ = fs::remove_file(&p.early);
    let (dir, listener, wake_r, wake_w) = match set_up(&p) {
        Ok(s) => s,
        Err((dir, why)) => to_node(&p, node, script, args, log, dir.as_deref(), why),
    };
    WAKE.store(wake_w.as_raw_fd(), Ordering::Relaxed);
    for sig in [SIGINT, SIGTERM, SIGHUP, SIGCHLD] {
        unsafe { signal(sig, on_signal as extern "C" fn(i32) as usize) };
    }
    let run_prefix = lossy(dir.as_os_str());
    let mut env = p.env.clone();
    env.retain(|(k, _)| !p.ticket.unset.iter().any(|u| OsStr::new(u) == k));
    for (k, v) in &p.ticket.set {
        let v = match v.strip_prefix("@run/") {
            Some(rest) => format!("{run_prefix}/{rest}"),
            None => v.clone(),
        };
        env.retain(|(name, _)| OsStr::new(k) != name);
        env.push((k.into(), v.into()));
    }
    let mut cargo = match Command::new(&p.ticket.program).args(&p.ticket.args).env_clear().envs(env).spawn() {
        Ok(c) => c,
        // Node says it in its own words, with the hint.
        Err(e) => to_node(&p, node, script, args, log, Some(&dir), format!("cannot start cargo ({e})")),
    };
    // Before anything cargo prints: it has only just been started.
    for line in &p.ticket.say {
        eprintln!("cratebox: {line}");
    }
    log.say("front: cargo started");

    // Until Node takes it: then only Node holds it, and a Node that died refuses the next step
    // instead of leaving it waiting.
    let mut listener = Some(listener);
    let mut adopted: Option<(Child, File)> = None;
    let mut interrupted = false;
    let cargo_status = loop {
        let sig = CAUGHT.swap(0, Ordering::Relaxed);
        if sig != 0 {
            interrupted = true;
            unsafe { kill(cargo.id() as i32, sig) };
            if let Some((n, _)) = &adopted {
                unsafe { kill(n.id() as i32, sig) };
            }
        }
        if let Ok(Some(st)) = cargo.try_wait() {
            break st;
        }
        if let Some((n, _)) = &mut adopted {
            if let Ok(Some(st)) = n.try_wait() {
                // Node ended before cargo (it refused the run): cargo stops too, and the run fails.
                log.say("front: node ended before cargo");
                stop(&mut cargo);
                let _ = fs::remove_dir_all(&dir);
                process::exit(if interrupted || CAUGHT.load(Ordering::Relaxed) != 0 {
                    INTERRUPTED
                } else {
                    match exit_code(st) {
                        0 => 101,
                        c => c,
                    }
                });
            }
        }
        if wait_for(&wake_r, listener.as_ref()) {
            let l = listener.take().unwrap();
            match adopt(&p, node, script, args, &dir, &l) {
                Ok(a) => adopted = Some(a),
                Err(why) => {
                    stop(&mut cargo);
                    fail(&dir, why);
                }
            }
            log.say("front: node adopted the run");
        }
    };
    if CAUGHT.swap(0, Ordering::Relaxed) != 0 {
        interrupted = true;
    }
    let code = if interrupted { INTERRUPTED } else { exit_code(cargo_status) };
    match adopted {
        None => {
            for line in &p.ticket.after {
                eprintln!("cratebox: {line}");
            }
            let _ = fs::remove_dir_all(&dir);
            log.say(&format!("front: no step; exit {code}"));
            process::exit(code);
        }
        Some((mut n, mut status)) => {
            let _ = writeln!(status, "{code}");
            drop(status);
            let st = loop {
                if let Ok(Some(st)) = n.try_wait() {
                    break st;
                }
                let sig = CAUGHT.swap(0, Ordering::Relaxed);
                if sig != 0 {
                    unsafe { kill(n.id() as i32, sig) };
                }
                wait_for(&wake_r, None);
            };
            let _ = fs::remove_dir_all(&dir);
            process::exit(exit_code(st));
        }
    }
}

/// Gives up on a run cargo has ended or was stopped in: its directory goes, exit 2.
fn fail(dir: &Path, what: String) -> ! {
    let _ = fs::remove_dir_all(dir);
    eprintln!("cratebox: {what}");
    process::exit(2);
}

/// Starts Node to take over the run: the socket as fd 3, the read end of cargo's exit status as
/// fd 4, the metadata's answer in the run's directory, CRATEBOX_ADOPT naming the directory.
fn adopt(p: &Plan, node: &OsStr, script: &OsStr, args: &[OsString], dir: &Path, listener: &UnixListener) -> Result<(Child, File), String> {
    // In bin/cratebox's form, private: Node takes it as it takes bin/cratebox's (src/runtime/shell-asked.ts).
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dir.join("early-answer"))
        .and_then(|mut f| write!(f, "{}\n#cratebox-early 0\n", p.metadata))
        .map_err(|e| format!("cannot write the metadata's answer ({e})"))?;
    let (status_r, status_w) = pipe().map_err(|e| format!("cannot make a pipe ({e})"))?;
    let (sock, status) = (listener.as_raw_fd(), status_r.as_raw_fd());
    let mut c = node_command(node, script, args);
    c.env_clear().envs(p.env.iter().cloned()).env("CRATEBOX_ADOPT", dir);
    unsafe {
        c.pre_exec(move || {
            // Above 4 first, so that neither lands on the other's number; then onto 3 and 4 (no
            // close-on-exec; Node marks both close-on-exec once it has them).
            let a = fcntl(sock, F_DUPFD, 10);
            let b = fcntl(status, F_DUPFD, 10);
            if a < 0 || b < 0 || dup2(a, 3) < 0 || dup2(b, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            close(a);
            close(b);
            Ok(())
        });
    }
    let child = c.spawn().map_err(|e| format!("cannot start {} ({e})", node.to_string_lossy()))?;
    drop(status_r);
    Ok((child, status_w))
}
