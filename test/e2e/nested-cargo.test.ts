/**
 * A trybuild UI test (a proc-macro crate testing its compile errors) runs a nested cargo inside
 * the test binary's sandbox. Plain cargo passes it; cratebox without a grant fails it with a line
 * naming the grant, which learn proposes and `approve --test --cargo` writes; `[test.mymacro]
 * cargo = true` passes it (bwrap and the Docker engine), with a cleaned copy of the cargo
 * configuration: the tokens and credentials.toml planted in CARGO_HOME stay out of the sandbox.
 *
 * The source replacement lives only in the planted CARGO_HOME's config.toml (a directory source
 * outside /usr, as a vendor directory would be), so the nested cargo resolves `glob` only through
 * the cleaned copy; the package is a workspace member, so trybuild's `cargo metadata` needs the
 * workspace root.
 */
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { CRATEBOX, cratebox, makeFakeHome, plainCargo, testEnv } from "../helpers/run.ts";
import { makeRegistry, ROOT, tempDir } from "../helpers/workspace.ts";

const registry = makeRegistry();
const fake = makeFakeHome();
const ws = tempDir("cratebox-trybuild-");
const env = testEnv(fake);
const SECRETS = ["SECRET-CONFIG-TOKEN", "SECRET-CORP-TOKEN", "SECRET-CREDENTIALS-TOKEN"];
const GRANT_LINE =
  'cratebox: test binary ui of mymacro 0.1.0 failed in the sandbox after a nested cargo (trybuild) in it failed: without a grant it sees none of your cargo configuration (source replacement, registries), registry caches or workspace root; if it runs cargo, grant in cratebox.toml: [test.mymacro] version = "=0.1.0" cargo = true (a cleaned copy of the configuration, no credentials)';

beforeAll(() => {
  cpSync(path.join(ROOT, "test/fixtures/workspaces/trybuild"), ws, { recursive: true });
  writeFileSync(
    path.join(fake.cargoHome, "config.toml"),
    [
      "[source.crates-io]",
      'replace-with = "test-registry"',
      "[source.test-registry]",
      `directory = "${registry.dir}"`,
      "[net]",
      "offline = true",
      "[registry]",
      'token = "SECRET-CONFIG-TOKEN"',
      "[registries.corp]",
      `index = "file://${registry.dir}/corp-index"`,
      'token = "SECRET-CORP-TOKEN"',
      "",
    ].join("\n"),
  );
  writeFileSync(path.join(fake.cargoHome, "credentials.toml"), '[registry]\ntoken = "SECRET-CREDENTIALS-TOKEN"\n');
  writeFileSync(path.join(ws, "mymacro/planted-cargo-home.txt"), fake.cargoHome);
});

describe("a nested cargo (trybuild) in a test's sandbox", () => {
  it("passes under plain cargo, fails under cratebox naming the grant that learn proposes, passes with cargo = true, and never shows the credentials", async () => {
    // Plain cargo records the expected compile error (the compiler's wording is the toolchain's), then passes as is.
    const record = await plainCargo(["test", "--test", "ui"], ws, { ...env, TRYBUILD: "overwrite" });
    expect(record.code, record.output).toBe(0);
    expect(existsSync(path.join(ws, "mymacro/tests/ui/bad.stderr"))).toBe(true);
    expect(readFileSync(path.join(ws, "mymacro/tests/ui/bad.stderr"), "utf8")).toContain("answer!() takes no arguments");
    const plain = await plainCargo(["test", "--test", "ui"], ws, env);
    expect(plain.code, plain.output).toBe(0);
    expect(plain.stdout).toMatch(/test ui \.\.\. ok/);
    // Without cratebox a test reads the tokens of cargo's home: what the grant must not hand over.
    const plainSecrets = await plainCargo(["test", "--test", "secrets", "--", "--nocapture"], ws, env);
    expect(plainSecrets.code, plainSecrets.output).toBe(0);
    for (const s of SECRETS) expect(plainSecrets.stdout).toContain(s);

    // No grant: the nested cargo sees neither the configuration nor the workspace root.
    const denied = await cratebox(["test", "--test", "ui"], ws, env);
    expect(denied.code, denied.output).toBe(101);
    expect(denied.stdout).toMatch(/test ui \.\.\. FAILED/);
    expect(denied.stderr).toContain(GRANT_LINE);

    // learn proposes exactly that grant; approve --test --cargo writes it.
    const learned = await cratebox(["test", "--test", "ui"], ws, env, ["learn"]);
    expect(learned.stderr).toContain("learn: mymacro 0.1.0 (ui) failed after a nested cargo in it failed; proposing cargo = true");
    expect(readFileSync(path.join(ws, "cratebox.toml.proposed"), "utf8")).toContain('[test.mymacro]\nversion = "=0.1.0"\ncargo = true\n');
    const approved = await execa(CRATEBOX, ["approve", "mymacro", "--test", "--cargo"], { cwd: ws, env, extendEnv: false, reject: false });
    expect(approved.exitCode, approved.stderr).toBe(0);
    expect(readFileSync(path.join(ws, "cratebox.toml"), "utf8")).toMatch(/\[test\.mymacro\]\nversion = "=0\.1\.0"\nsource = "path"\ncargo = true\n/);

    const granted = await cratebox(["test", "--test", "ui"], ws, env);
    expect(granted.code, granted.output).toBe(0);
    expect(granted.stdout).toMatch(/test ui \.\.\. ok/);
    // trybuild's own lines (stderr): both cases ran in the nested cargo, the failing one failed to compile as expected.
    const trybuild = stripVTControlCharacters(granted.stderr);
    expect(trybuild).toMatch(/test tests\/ui\/good\.rs \[should pass\] \.\.\. ok/);
    expect(trybuild).toMatch(/test tests\/ui\/bad\.rs \[should fail to compile\] \.\.\. ok/);
    expect(granted.stderr).not.toContain("nested cargo");
    // The same view from the Docker engine's backend (a tmpfs CARGO_HOME in the HOME tmpfs, a file bound into it).
    const engine = await cratebox(["test", "--test", "ui"], ws, env, ["--backend", "docker"]);
    expect(engine.code, engine.output).toBe(0);
    expect(stripVTControlCharacters(engine.stderr)).toMatch(/test tests\/ui\/bad\.rs \[should fail to compile\] \.\.\. ok/);

    // Under the grant the test sees the cleaned copy only: sources and net, no token, no credentials.toml.
    const secrets = await cratebox(["test", "--test", "secrets", "--", "--nocapture"], ws, env);
    expect(secrets.code, secrets.output).toBe(0);
    expect(secrets.stdout).toContain("read /home/cratebox/.cargo/config.toml:");
    expect(secrets.stdout).toContain(`directory = "${registry.dir}"`);
    expect(secrets.stdout).toMatch(/cannot read \/home\/cratebox\/\.cargo\/credentials\.toml: No such file/);
    expect(secrets.stdout).toContain(`cannot read ${fake.cargoHome}/config.toml`);
    expect(secrets.output).not.toContain("SECRET");
  });
});
