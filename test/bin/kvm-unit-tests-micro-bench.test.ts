// kvm-unit-tests' arm64 micro-bench through the real-guests runner (the CLI), under both world
// switches, to the guest's own power-off: hvc, mmio_read_user, mmio_read_vgic, eoi, ipi (two
// vCPUs) and timer_10ms print their lines, and the cycles follow the papers' ordering — virtual
// EOI < hypercall < interrupt-controller trap < virtual IPI (Dall et al., ISCA 2016, Table II, KVM
// ARM) — with VHE below nVHE for every exit (Dall et al., USENIX ATC 2017); the virtual timer's
// PPI reaches the guest each 10 ms. The CLI's --model / --timeout checks, and the
// measurement-line parser.

import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { timingLines, type Run, type Timing } from "../../bin/kut/runner.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ARM = join(ROOT, "../shared/guests/kvm-unit-tests/arm64");
const haveKut = existsSync(join(ARM, "micro-bench.flat"));
const execFileP = promisify(execFile);

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

describe.skipIf(!haveKut)("micro-bench on both world switches, through the CLI to its power-off", () => {
  // The whole entry, as `exitlab kvm-unit-tests DIR --only micro-bench --model M` runs it: the five
  // exit tests, ipi_hw and lpi (skipped without GICv4.1 and an ITS), then timer_10ms, whose 256
  // waits of 10 ms on the virtual timer are 2.56 G cycles of modelled spinning (about 2.6 G
  // instructions, 30-60 s of host CPU): the run ends by the guest's PSCI SYSTEM_OFF, not a limit.
  // Both models run at once (one process each).
  const TIMEOUT_S = 1500;
  const runs: Record<"nvhe" | "vhe", { exitlab: Run; stdout: string }> = {} as never;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "exitlab-mb-"));
    try {
      await Promise.all(
        (["nvhe", "vhe"] as const).map(async (model) => {
          const out = join(dir, `${model}.json`);
          const r = await execFileP(process.execPath, ["bin/exitlab.js", "kvm-unit-tests", ARM, "--only", "micro-bench", "--no-qemu", "--model", model, "--timeout", String(TIMEOUT_S), "--json", out], { cwd: ROOT, encoding: "utf8", maxBuffer: 16 << 20 });
          const rows = JSON.parse(readFileSync(out, "utf8")) as { name: string; exitlab: Run }[];
          runs[model] = { exitlab: rows.find((x) => x.name === "micro-bench")!.exitlab, stdout: r.stdout };
        }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, (TIMEOUT_S + 120) * 1000);
  const cycles = (t: Timing[] | undefined, name: string): number => {
    const x = t?.find((y) => y.name === name || (name === "hvc" && y.name === "hyp_call"));
    expect(x, `${name} measured`).toBeDefined();
    return x!.avgNs; // ns of the modelled 1 GHz core: cycles
  };

  it("completes on both models: every test measured, timer_10ms included, and the guest powers off", () => {
    for (const model of ["nvhe", "vhe"] as const) {
      const { exitlab, stdout } = runs[model];
      expect(exitlab.ended, model).toBe("powered off");
      expect(exitlab.outcome, model).toBe("MEASURED");
      expect(exitlab.timings!.map((t) => t.name), model).toEqual(["hyp_call", "mmio_read_user", "mmio_read_vgic", "eoi", "ipi", "timer_10ms"]);
      expect(exitlab.steps!, model).toBeGreaterThan(2_560_000_000);
      // The runner prints the measurements as cycles, timer_10ms's among them.
      expect(stdout, model).toMatch(new RegExp(`micro-bench on exitlab \\(KVM today, ${model}; cycles`));
      expect(stdout, model).toMatch(/^timer_10ms\s+\d+\.\d\s+[\d,]+$/m);
    }
  });

  it("prints hvc, mmio_read_user, mmio_read_vgic, eoi and ipi on both models, in the papers' order", () => {
    for (const model of ["nvhe", "vhe"] as const) {
      const t = runs[model].exitlab.timings;
      const [eoi, hvc, vgic, ipi, user] = ["eoi", "hvc", "mmio_read_vgic", "ipi", "mmio_read_user"].map((n) => cycles(t, n));
      expect(eoi, model).toBeLessThan(hvc!);
      expect(hvc, model).toBeLessThan(vgic!);
      expect(vgic, model).toBeLessThan(ipi!);
      // A trip to the VMM (QEMU) costs more than any exit handled in the kernel.
      expect(ipi, model).toBeLessThan(user!);
    }
  });

  it("VHE is below nVHE for every exit; a virtual EOI costs no exit on either", () => {
    const [n, v] = [runs.nvhe.exitlab.timings, runs.vhe.exitlab.timings];
    for (const name of ["hvc", "mmio_read_vgic", "ipi", "mmio_read_user", "timer_10ms"]) expect(cycles(v, name), name).toBeLessThan(cycles(n, name));
    expect(cycles(v, "eoi")).toBe(cycles(n, "eoi"));
  });

  it("the timer's PPI reaches the guest: its latency past the 10 ms is an IRQ exit and more, under 10 ms", () => {
    for (const model of ["nvhe", "vhe"] as const) {
      const t = runs[model].exitlab.timings;
      // The interrupt costs at least a round trip through the host (more than a hypercall) and
      // arrives long before the test's 1<<28 tries would run out.
      expect(cycles(t, "timer_10ms"), model).toBeGreaterThan(cycles(t, "hvc"));
      expect(cycles(t, "timer_10ms"), model).toBeLessThan(100_000);
    }
  });
});
