// `vm boot ... initrd "FILE"` through the CLI (QEMU's -initrd): arm64 places it at RAM base +
// min(RAM / 2, 128 MiB) and names it in /chosen (linux,initrd-start/end), the device tree moving
// after it (QEMU hw/arm/boot.c); x86 hands it to a multiboot kernel as its one module (mods_count,
// mods_addr; hw/i386/multiboot.c). kvm-unit-tests reads that file as its environment (lib/argv.c
// setup_env), which the real binaries below show: an errata variable turns psci's SKIP into a run,
// and x86's setup_env names an invalid line.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";

const ROOT = join(__dirname, "../..");
const KUT = join(ROOT, "../shared/guests/kvm-unit-tests");
const dir = mkdtempSync(join(tmpdir(), "exitlab-initrd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a script through `exitlab run` (needs dist/); stdout, stderr, status. */
function run(script: string) {
  const file = join(dir, `s${Math.random().toString(36).slice(2)}.exl`);
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, ["bin/exitlab.js", "run", file], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

test("a missing initrd is a FileError at the file name's position, with a hint", () => {
  writeFileSync(join(dir, "k.bin"), new Uint8Array(64));
  const r = run('vm boot arm64 image "k.bin" initrd "no-such-initrd"\n');
  expect(r.out + r.err).toMatch(/FileError.*line 1, column 36.*cannot read the initrd no-such-initrd/s);
  expect(r.out + r.err).toContain("hint: `initrd \"FILE\"` names a file");
});

test("an empty initrd is refused naming the file", () => {
  writeFileSync(join(dir, "empty"), "");
  const r = run(`vm boot x86_64 multiboot "${join(KUT, "x86_64/dummy.flat")}" initrd "empty"\n`);
  expect(r.out + r.err).toMatch(/empty is empty/);
});

describe.skipIf(!existsSync(KUT) && process.env.EXITLAB_REQUIRE_KUT !== "1")("initrds that kvm-unit-tests reads as its environment", () => {
  test("arm64: /chosen has linux,initrd-start/end at RAM base + 64 MiB, the tree 2 MiB aligned after it; ERRATA_6c7a5dce22b3=y makes psci run its cpu-on test", () => {
    const env = "ERRATA_6c7a5dce22b3=y\n";
    writeFileSync(join(dir, "env"), env);
    const psci = join(KUT, "arm64/psci.flat");
    const r = run(`set vcpus 2\nvm boot arm64 image "${psci}" initrd "${join(dir, "env")}"\nset steplimit 100000000\nrun\nshow console\nshow dtb\n`);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toContain("device tree at 0x44200000 (dts)");
    expect(r.out).toContain("linux,initrd-start = <0x0 0x44000000>;");
    expect(r.out).toContain(`linux,initrd-end = <0x0 0x${(0x4400_0000 + env.length).toString(16)}>;`);
    expect(r.out).not.toContain("Skipping unsafe cpu-on test");
    expect(r.out).toContain("PASS: psci: cpu-on");
    // Without the initrd: the SKIP line.
    const plain = run(`set vcpus 2\nvm boot arm64 image "${psci}"\nset steplimit 100000000\nrun\nshow console\n`);
    expect(plain.out).toContain("SKIP: psci: Skipping unsafe cpu-on test. Set ERRATA_6c7a5dce22b3=y to enable.");
  }, 120_000);

  test("x86: the module reaches the multiboot kernel (kvm-unit-tests' setup_env prints the invalid line it holds)", () => {
    writeFileSync(join(dir, "bad-env"), "FOO=1\nnot an assignment\n");
    const r = run(`vm boot x86_64 multiboot "${join(KUT, "x86_64/dummy.flat")}" initrd "${join(dir, "bad-env")}"\nset steplimit 10000000\nrun\nshow console\n`);
    expect(r.out, r.err).toContain("Invalid environment variable: not an assignment");
    const plain = run(`vm boot x86_64 multiboot "${join(KUT, "x86_64/dummy.flat")}"\nset steplimit 10000000\nrun\nshow console\n`);
    expect(plain.out).not.toContain("Invalid environment variable");
  }, 120_000);
});
