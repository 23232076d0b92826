// kvm-unit-tests' arm64 micro-bench through the real-guests runner, under both world switches:
// hvc, mmio_read_user, mmio_read_vgic, eoi and ipi (two vCPUs) print their lines, and the cycles
// follow the papers' ordering — virtual EOI < hypercall < interrupt-controller trap < virtual IPI
// (Dall et al., ISCA 2016, Table II, KVM ARM) — with VHE below nVHE for every exit (Dall et al.,
// USENIX ATC 2017). The CLI's --model / --timeout checks, and the measurement-line parser.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseUnittestsCfg } from "../../bin/kut/config.js";
import { entriesFor, runExitlab, timingLines, type Timing } from "../../bin/kut/runner.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ARM = join(ROOT, "../shared/guests/kvm-unit-tests/arm64");
const haveKut = existsSync(join(ARM, "micro-bench.flat"));

function cli(args: string[]): { out: string; err: string; status: number | null } {
  const r = spawnSync(process.execPath, ["bin/exitlab.js", "kvm-unit-tests", ...args], { cwd: ROOT, encoding: "utf8" });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

describe("micro-bench measurement lines", () => {
  it("parses loop_test's `name total.f avg.f` lines and nothing else", () => {
    const console = "Timer Frequency 62500000 Hz (Output in microseconds)\n\nname      total ns     avg ns\n-----\nhvc                            130808960.0                         1995.0              \nipi_hw test skipped\n";
    expect(timingLines(console)).toEqual([{ name: "hvc", totalNs: 130808960, avgNs: 1995 }]);
  });

  it("--model and --timeout are checked", () => {
    const dir = haveKut ? ARM : ROOT;
    expect(cli([dir, "--model", "e2h"]).err).toMatch(/--model must be nvhe or vhe, not e2h/);
    expect(cli([dir, "--timeout", "-3"]).err).toMatch(/--timeout takes seconds \(a positive number\), not -3/);
  });
});

describe.skipIf(!haveKut)("micro-bench on both world switches", () => {
  // Enough instructions for the five measured tests (the ipi test ends at 47.9 M on either model);
  // the timer test after them spins 256 × 10 ms of modelled time and is not waited for.
  const MAX_STEPS = 55_000_000;
  const entry = entriesFor(parseUnittestsCfg(haveKut ? readFileSync(join(ARM, "unittests.cfg"), "utf8") : ""), "arm64", ["micro-bench"])[0]!;
  const cycles = (t: Timing[] | undefined, name: string): number => {
    const x = t?.find((y) => y.name === name || (name === "hvc" && y.name === "hyp_call"));
    expect(x, `${name} measured`).toBeDefined();
    return x!.avgNs; // ns of the modelled 1 GHz core: cycles
  };
  const runs = haveKut ? (["nvhe", "vhe"] as const).map((model) => ({ model, run: runExitlab(ARM, "arm64", entry, { model, maxSteps: MAX_STEPS, maxMs: 600_000 }) })) : [];

  it("prints hvc, mmio_read_user, mmio_read_vgic, eoi and ipi on both models, in the papers' order", () => {
    for (const { model, run } of runs) {
      const t = run.timings;
      const [eoi, hvc, vgic, ipi, user] = ["eoi", "hvc", "mmio_read_vgic", "ipi", "mmio_read_user"].map((n) => cycles(t, n));
      expect(eoi, model).toBeLessThan(hvc!);
      expect(hvc, model).toBeLessThan(vgic!);
      expect(vgic, model).toBeLessThan(ipi!);
      // A trip to the VMM (QEMU) costs more than any exit handled in the kernel.
      expect(ipi, model).toBeLessThan(user!);
    }
  });

  it("VHE is below nVHE for every exit; a virtual EOI costs no exit on either", () => {
    const [n, v] = runs.map((r) => r.run.timings);
    for (const name of ["hvc", "mmio_read_vgic", "ipi", "mmio_read_user"]) expect(cycles(v, name), name).toBeLessThan(cycles(n, name));
    expect(cycles(v, "eoi")).toBe(cycles(n, "eoi"));
  });
});
