// kvm-unit-tests against QEMU: every entry listed in kvm-unit-tests.expected.json printed, under
// QEMU TCG, exactly the result lines recorded there, and exitlab must print the same lines. The
// list only grows: an entry that matched and no longer does fails here. With QEMU system emulation
// installed (CI installs qemu-system-arm and qemu-system-x86), QEMU is run again and must still
// print the recorded lines (the reference is checked, not only remembered).

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseUnittestsCfg } from "../../bin/kut/config.js";
import { DEFAULT_TIMEOUT_S, entriesFor, hasQemu, needs, resultTable, runExitlab, runQemu, type EntryResult } from "../../bin/kut/runner.js";
import type { Arch } from "../../runtime/core/machine.js";

const KUT = join(__dirname, "../../../shared/guests/kvm-unit-tests");
const EXPECTED = JSON.parse(readFileSync(join(__dirname, "kvm-unit-tests.expected.json"), "utf8")) as Record<Arch, Record<string, string[]>>;
const requireQemu = process.env.EXITLAB_REQUIRE_QEMU === "1";

/**
 * Result lines whose verdict under QEMU depends on the host's load, not on the guest: arm/timer.c
 * checks that the timer interrupt arrives within 10 ms of its deadline on the guest's counter,
 * which QEMU TCG derives from host time (a loaded host makes QEMU print FAIL). For QEMU's run
 * the verdict of these lines is not compared (their text is); exitlab's modelled time is
 * deterministic, and its lines are compared exactly.
 */
const HOST_TIMED = [/^(PASS|FAIL): ([pv]timer-busy-loop: latency within 10 ms)$/];
function hostTimed(lines: readonly string[]): string[] {
  let failed = 0;
  const out = lines.map((l) =>
    HOST_TIMED.reduce((t, re) => {
      const m = re.exec(t);
      if (!m) return t;
      if (m[1] === "FAIL") failed++;
      return `PASS|FAIL: ${m[2]}`;
    }, l),
  );
  // The SUMMARY counts those failures too ("SUMMARY: 18 tests, 1 unexpected failures").
  return out.map((l) => {
    const m = /^(SUMMARY: \d+ tests)(?:, (\d+) unexpected failures)?(.*)$/.exec(l);
    if (!m || failed === 0) return l;
    const left = Number(m[2] ?? 0) - failed;
    return `${m[1]}${left > 0 ? `, ${left} unexpected failures` : ""}${m[3]}`;
  });
}

test("an entry whose binary is not in the directory is a NO FILE row, one the loader refuses a LOAD ERROR row: the table is still printed (CLI, needs dist/)", () => {
  const dir = mkdtempSync(join(tmpdir(), "exitlab-kut-"));
  try {
    writeFileSync(join(dir, "unittests.cfg"), "[gone]\nfile = gone.flat\narch = x86_64\n\n[here]\nfile = here.flat\n");
    // here.flat: not a multiboot kernel, so exitlab's loader refuses it; the table still has both rows.
    writeFileSync(join(dir, "here.flat"), "not an ELF file");
    const r = spawnSync("node", ["bin/exitlab.js", "kvm-unit-tests", dir, "--arch", "x86_64", "--no-qemu"], { cwd: join(__dirname, "../.."), encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toContain("  gone: exitlab NO FILE\n");
    expect(r.stdout).toMatch(/^gone\s+gone\.flat \(not in the directory\)\s+\(no QEMU\)\s+NO FILE\b/m);
    expect(r.stderr).toContain("  here: exitlab LOAD ERROR\n");
    expect(r.stdout).toMatch(/^here\s+-\s+\(no QEMU\)\s+LOAD ERROR\b/m);
    expect(r.status, r.stderr).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

describe.skipIf(!existsSync(KUT) && process.env.EXITLAB_REQUIRE_KUT !== "1")("kvm-unit-tests entries that match QEMU line for line", () => {
  test("the corpus is there (EXITLAB_REQUIRE_KUT makes its absence a failure)", () => {
    expect(existsSync(KUT), KUT).toBe(true);
  });

  test("the CLI with --no-qemu runs exitlab alone and says why there is no reference (needs dist/)", () => {
    const r = spawnSync("node", ["bin/exitlab.js", "kvm-unit-tests", join(KUT, "x86_64"), "--arch", "x86_64", "--only", "eventinj", "--no-qemu"], { cwd: join(__dirname, "../.."), encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("1 x86_64 entries on exitlab (--no-qemu: no reference)");
    expect(r.stdout).toMatch(/^eventinj\b.*\bPASS\b/m);
  }, 120_000);

  test("an entry that exits with the skip status 77 is SKIP on both sides, as upstream's runtime.bash reports it (CLI, needs dist/)", () => {
    // x86 smap without -cpu max: no SMAP, so it prints "SMAP not enabled", "SUMMARY: 0 tests" and
    // exits 77 through isa-debug-exit (no PASS/FAIL/SKIP line at all).
    const dir = mkdtempSync(join(tmpdir(), "exitlab-kut-skip-"));
    try {
      symlinkSync(join(KUT, "x86_64", "smap.flat"), join(dir, "smap.flat"));
      writeFileSync(join(dir, "unittests.cfg"), "[smap-qemu64]\nfile = smap.flat\n");
      // --era 2015: its host (Haswell) has no SMAP, as QEMU's qemu64 has none (today's host has SMAP, and exitlab's CPUID does not follow -cpu).
      const r = spawnSync("node", ["bin/exitlab.js", "kvm-unit-tests", dir, "--arch", "x86_64", "--era", "2015"], { cwd: join(__dirname, "../.."), encoding: "utf8", timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const qemu = hasQemu("x86_64");
      if (requireQemu) expect(qemu).toBe(true);
      expect(r.stdout).toMatch(qemu ? /^smap-qemu64\s+-\s+SKIP\s+SKIP\s+yes\b/m : /^smap-qemu64\s+-\s+\(no QEMU\)\s+SKIP\b/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  test("--initrd FILE reaches both sides as QEMU's -initrd: psci reads ERRATA_6c7a5dce22b3=y from it and runs its cpu-on test (CLI, needs dist/)", () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-kut-initrd-"));
    try {
      const env = join(dir, "env");
      writeFileSync(env, "ERRATA_6c7a5dce22b3=y\n");
      const json = join(dir, "out.json");
      const run = (...extra: string[]) => spawnSync("node", ["bin/exitlab.js", "kvm-unit-tests", join(KUT, "arm64"), "--only", "psci", "--json", json, ...extra], { cwd: join(__dirname, "../.."), encoding: "utf8", timeout: 120_000 });
      const r = run("--initrd", env);
      expect(r.status, r.stderr).toBe(0);
      const [row] = JSON.parse(readFileSync(json, "utf8")) as { exitlab: { lines: string[] }; qemu?: { lines: string[] }; match?: boolean }[];
      // Without the initrd psci prints "SKIP: psci: Skipping unsafe cpu-on test. Set ERRATA_6c7a5dce22b3=y to enable." (the expectation list).
      expect(row!.exitlab.lines).toContain("PASS: psci: cpu-on");
      expect(row!.exitlab.lines.some((l) => l.startsWith("SKIP"))).toBe(false);
      if (requireQemu) expect(hasQemu("arm64")).toBe(true);
      if (hasQemu("arm64")) {
        expect(row!.qemu!.lines).toContain("PASS: psci: cpu-on");
        expect(row!.match).toBe(true);
      }
      const missing = run("--initrd", join(dir, "absent"));
      expect(missing.status).toBe(2);
      expect(missing.stderr).toContain(`--initrd: ${join(dir, "absent")} does not exist`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  for (const arch of ["arm64", "x86_64"] as const) {
    const names = Object.keys(EXPECTED[arch] ?? {});
    if (names.length === 0) continue;
    const dir = join(KUT, arch);
    const entries = entriesFor(parseUnittestsCfg(readFileSync(join(dir, "unittests.cfg"), "utf8")), arch, names);
    test(`${arch}: the ${names.length} recorded entries are in unittests.cfg`, () => {
      expect(entries.map((e) => e.name).sort()).toEqual([...names].sort());
      if (requireQemu) expect(hasQemu(arch), `QEMU system emulation for ${arch}`).toBe(true);
    });
    // One test per entry, each with its own time: the vmexit loops run 2^30 modelled cycles (tens
    // of seconds). exitlab gets three times the entry's timeout here, and at least a minute (arm64
    // timer's own is 10 s): the test compares lines, and the CI host runs other test files beside
    // it (the runner's table uses the entry's own timeout).
    const rows: EntryResult[] = [];
    for (const e of entries) {
      const limitMs = Math.max((e.timeout ?? DEFAULT_TIMEOUT_S) * 1000, 20_000);
      test(`${arch} ${e.name}: QEMU's result lines, on exitlab too`, () => {
        const want = EXPECTED[arch][e.name]!;
        expect(want.length, e.name).toBeGreaterThan(0);
        const qemu = hasQemu(arch) ? runQemu(dir, arch, e) : undefined;
        const exitlab = runExitlab(dir, arch, e, { maxMs: 3 * limitMs });
        rows.push({ entry: e, needs: needs(e, arch), exitlab, qemu, match: qemu ? qemu.lines.join("\n") === exitlab.lines.join("\n") : undefined });
        if (qemu) expect(hostTimed(qemu.lines), `${e.name} under QEMU`).toEqual(hostTimed(want));
        expect(exitlab.lines, `${e.name} on exitlab`).toEqual(want);
      }, 5 * limitMs);
    }
    // The runner's table of what this run ran, in the log (CI's too): the README has the whole corpus's.
    test(`${arch}: the runner's table of the recorded entries`, () => {
      expect(rows.length).toBe(entries.length);
      console.log(`kvm-unit-tests ${arch}, the recorded entries as this run ran them (npx exitlab kvm-unit-tests DIR --only NAME,... prints the same table):\n${resultTable(rows)}`);
    });
  }
});
