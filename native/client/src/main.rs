//! The shims' client: `cratebox-client [--runner|--rustc|--rustdoc] <program> [args...]`, run by
//! cargo (through a build-script shim, its runner hook or the compiler wrappers) with the
//! environment cargo gave the step. Sends the request to the cratebox run (CRATEBOX_SOCKET),
//! relays the sandbox's stdout and stderr, and exits as the program did, by signal too.
//!
//! The protocol (src/core/protocol.ts): one JSON line out; frames back, each
//! [type: u8][length: u32 big-endian][payload]: 1 stdout, 2 stderr, 3 exit (JSON, last).
use std::env;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process;
use std::time::{SystemTime, UNIX_EPOCH};

const PROTOCOL_VERSION: u32 = 1;

extern "C" {
    fn kill(pid: i32, sig: i32) -> i32;
    fn getpid() -> i32;
    fn signal(sig: i32, handler: usize) -> usize;
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn fail(message: &str) -> ! {
    let _ = writeln!(io::stderr(), "cratebox: {}", message);
    process::exit(101);
}

/// The number after `"key":` in a flat JSON object.
fn json_number(text: &str, key: &str) -> Option<i32> {
    let at = text.find(&format!("\"{}\":", key))? + key.len() + 3;
    let rest = text[at..].trim_start();
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '-')).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// The string after `"key":` in a flat JSON object (signal names need no escapes).
fn json_str<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let at = text.find(&format!("\"{}\":", key))? + key.len() + 3;
    let rest = text[at..].trim_start().strip_prefix('"')?;
    Some(&rest[..rest.find('"')?])
}

fn signal_number(name: &str) -> Option<i32> {
    Some(match name {
        "SIGHUP" => 1,
        "SIGINT" => 2,
        "SIGQUIT" => 3,
        "SIGILL" => 4,
        "SIGTRAP" => 5,
        "SIGABRT" => 6,
        "SIGBUS" => 7,
        "SIGFPE" => 8,
        "SIGKILL" => 9,
        "SIGSEGV" => 11,
        "SIGPIPE" => 13,
        "SIGALRM" => 14,
        "SIGTERM" => 15,
        _ => return None,
    })
}

fn main() {
    let started = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let mut argv: Vec<String> = env::args().skip(1).collect();
    let kind = match argv.first().map(String::as_str) {
        Some("--runner") => "runner",
        Some("--rustc") => "rustc",
        Some("--rustdoc") => "rustdoc",
        _ => "build-script",
    };
    if kind != "build-script" {
        argv.remove(0);
    }
    if argv.is_empty() {
        fail("the sandbox shim was started without a program");
    }
    let socket = env::var("CRATEBOX_SOCKET").unwrap_or_else(|_| fail("the sandbox shim was started outside a cratebox run"));
    let cwd = env::current_dir().unwrap_or_else(|e| fail(&format!("no working directory: {}", e)));
    let program = &argv[0];
    // Cargo hands its runner a path relative to the working directory (`target/debug/app`);
    // a bare name (rustdoc) is for cratebox to find.
    let program = if program.contains('/') { cwd.join(Path::new(program)).to_string_lossy().into_owned() } else { program.clone() };

    let mut req = String::with_capacity(16 * 1024);
    req.push_str(&format!("{{\"v\":{},\"kind\":\"{}\",\"program\":", PROTOCOL_VERSION, kind));
    json_string(&mut req, &program);
    req.push_str(",\"args\":[");
    for (i, a) in argv[1..].iter().enumerate() {
        if i > 0 {
            req.push(',');
        }
        json_string(&mut req, a);
    }
    req.push_str("],\"cwd\":");
    json_string(&mut req, &cwd.to_string_lossy());
    req.push_str(",\"env\":{");
    for (i, (k, v)) in env::vars_os().enumerate() {
        if i > 0 {
            req.push(',');
        }
        json_string(&mut req, &k.to_string_lossy());
        req.push(':');
        json_string(&mut req, &v.to_string_lossy());
    }
    req.push_str(&format!("}},\"clientStartedAt\":{}}}\n", started));

    let mut sock = UnixStream::connect(&socket).unwrap_or_else(|e| fail(&format!("lost the connection to the cratebox run ({})", e)));
    sock.write_all(req.as_bytes()).unwrap_or_else(|e| fail(&format!("lost the connection to the cratebox run ({})", e)));

    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut head = [0u8; 5];
    let mut payload = Vec::new();
    loop {
        if sock.read_exact(&mut head).is_err() {
            fail("the cratebox run ended before the sandboxed program finished");
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        payload.resize(len, 0);
        if sock.read_exact(&mut payload).is_err() {
            fail("the cratebox run ended before the sandboxed program finished");
        }
        match head[0] {
            1 => {
                let mut out = stdout.lock();
                let _ = out.write_all(&payload);
                let _ = out.flush();
            }
            2 => {
                let mut err = stderr.lock();
                let _ = err.write_all(&payload);
                let _ = err.flush();
            }
            3 => {
                let text = String::from_utf8_lossy(&payload);
                let code = json_number(&text, "code").unwrap_or(101);
                if let Some(sig) = json_str(&text, "signal").and_then(signal_number) {
                    // Die of the same signal, so cargo reports it as such.
                    unsafe {
                        signal(sig, 0);
                        kill(getpid(), sig);
                    }
                }
                process::exit(code);
            }
            _ => fail("the cratebox run sent something this client does not understand"),
        }
    }
}
