// kvm-unit-tests' x86/vmexit.c through the real-guests runner: it prints measurements, not report
// lines (`NAME CYCLES` once a test's loop took GOAL = 2^30 TSC ticks), so the runner compares the
// tests measured, their skips and inl_pmtimer's PM timer port (vmexitLines); and the entry's
// -append selects the one test, because argv[0] is the kernel's file name as QEMU's multiboot
// command line has it (hw/i386/multiboot.c) — before, argv[0] was the test's name and every test
// of vmexit.c ran, far past the entry's timeout.

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { outcome, resultLines, vmexitLines, type Run } from "../../bin/kut/runner.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const X86 = join(ROOT, "../shared/guests/kvm-unit-tests/x86_64");

test("vmexit.c's lines: measurements by name (cycles differ between clocks), skips, the PM timer port; other files keep report lines only", () => {
  // As QEMU TCG prints them (the cycle counts are host time there).
  const console = "enabling apic\ncr4 = 20\nPM timer port is 608\ninl_from_pmtimer 5321\ncpuid 812\n  ipi ipi 1630\nipi (skipped)\ntscdeadline_immed (skipped)\n";
  expect(vmexitLines(console.split("\n"))).toEqual(["PM timer port is 608", "MEASURED: inl_from_pmtimer", "MEASURED: cpuid", "MEASURED: ipi ipi", "ipi (skipped)", "tscdeadline_immed (skipped)"]);
  expect(resultLines(console, "vmexit.flat")).toEqual(vmexitLines(console.split("\n")));
  expect(resultLines(console, "msr.flat")).toEqual([]);
  expect(outcome(["MEASURED: cpuid"], "NO RESULT")).toBe("MEASURED");
  expect(outcome(["MEASURED: cpuid"], "TIMEOUT")).toBe("TIMEOUT");
});

describe.skipIf(!existsSync(join(X86, "vmexit.flat")) && process.env.EXITLAB_REQUIRE_KUT !== "1")("vmexit_cpuid through the CLI", () => {
  test("runs cpuid alone to the guest's exit: 2^30 modelled cycles of CPUID exits, about 2 M of them (needs dist/)", () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-vmexit-"));
    try {
      const out = join(dir, "r.json");
      const r = spawnSync(process.execPath, ["bin/exitlab.js", "kvm-unit-tests", X86, "--only", "vmexit_cpuid", "--no-qemu", "--timeout", "60", "--json", out], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      const run = (JSON.parse(readFileSync(out, "utf8")) as { name: string; exitlab: Run }[])[0]!.exitlab;
      expect(run.ended).toBe("powered off");
      expect(run.outcome).toBe("MEASURED");
      expect(run.lines).toEqual(["MEASURED: cpuid"]);
      // The doubling loop stops at the first round of at least 2^30 cycles: 64 + 128 + ... + 2^20
      // iterations at about 1,350 modelled cycles per CPUID exit; all of vmexit.c's tests (the old
      // argv) would have gone on to vmcall's exits after these.
      expect(run.exits!).toBeGreaterThan(2_000_000);
      expect(run.exits!).toBeLessThan(2_200_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
