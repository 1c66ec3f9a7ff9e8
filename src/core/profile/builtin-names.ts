/** The built-in profiles shipped in profiles/<name>.toml (a unit test keeps the two in step). */
export const BUILTIN_PROFILE_NAMES = ["c-toolchain", "pkg-config", "openssl", "sys-conventions"] as const;
export type BuiltinProfileName = (typeof BUILTIN_PROFILE_NAMES)[number];
