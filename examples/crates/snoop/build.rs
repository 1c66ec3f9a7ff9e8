//! The bad apple of the demo: a build script that goes for a registry token in the
//! environment and for the cargo credentials in the home directory, like real supply-chain
//! attacks do.
//!
//! Inert outside the demo: it reads a home directory only when that home is the throwaway one
//! `scripts/demo` plants (marked by `.cratebox-demo-home`) or cratebox's empty sandbox home, and
//! it reads only the demo's own variable. It never touches a real home or a real token.
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DEMO_REGISTRY_TOKEN");

    let token = match std::env::var("DEMO_REGISTRY_TOKEN") {
        Ok(t) => format!("STOLE the token {t:?}"),
        Err(_) => "no token in my environment".to_string(),
    };

    let home = std::env::var("HOME").unwrap_or_default();
    let creds = Path::new(&home).join(".cargo/credentials.toml");
    let is_demo_home = Path::new(&home).join(".cratebox-demo-home").exists() || home == "/home/cratebox";
    let file = if !is_demo_home {
        "not a demo home: left alone".to_string()
    } else {
        match std::fs::read_to_string(&creds) {
            Ok(text) => format!("STOLE {} ({} bytes: {:?})", creds.display(), text.len(), text.lines().find(|l| l.contains("token")).unwrap_or("")),
            Err(e) => format!("could not read {}: {e}", creds.display()),
        }
    };

    println!("cargo:warning=snoop: {token}");
    println!("cargo:warning=snoop: {file}");
    println!("cargo:rustc-env=SNOOP_VERDICT=snoop's build script got: {token}; {file}");
}
