/// What the build script managed to steal, baked in at build time.
pub fn verdict() -> &'static str {
    env!("SNOOP_VERDICT")
}
