// `npm run bench`: speed figures of the emulators and the kernel, printed as a table with the
// DESIGN targets beside them. Figures are measured here and now; no number is stored.

import { performance } from "node:perf_hooks";
import type { Arch, Machine } from "../runtime/core/machine.js";

interface Figure {
  name: string;
  value: number;
  unit: string;
  target?: string;
  note?: string;
}

// Tight guest loops: ~3 instructions per iteration, no exits until the end.
const LOOPS: Record<Arch, string> = {
  x86_64: `
    .code32
    start:
      mov $3000000, %ecx
    1: add $1, %eax
      dec %ecx
      jnz 1b
      mov $0xf4, %dx
      mov $0, %al
      out %al, %dx
  `,
  arm64: `
    _start:
      ldr x1, =3000000
    1: add x0, x0, #1
      subs x1, x1, #1
      b.ne 1b
      ldr x0, =0x84000008
      hvc #0
  `,
};

// A guest that exits on every iteration: a trapped instruction in a loop (x86: cpuid always
// exits; arm64: hvc always traps to EL2).
const EXIT_LOOPS: Record<Arch, string> = {
  x86_64: `
    .code32
    start:
      mov $20000, %esi
    1: xor %eax, %eax
      cpuid
      dec %esi
      jnz 1b
      mov $0xf4, %dx
      out %al, %dx
  `,
  arm64: `
    _start:
      ldr x19, =20000
    1: ldr x0, =0x84000000
      hvc #0
      subs x19, x19, #1
      b.ne 1b
      ldr x0, =0x84000008
      hvc #0
  `,
};

async function machineFor(arch: Arch, source: string): Promise<Machine> {
  const { createMachine } = await import("../runtime/index.js");
  return createMachine(arch, { guest: { source }, settings: { stepLimit: 100_000_000 } });
}

async function benchArch(arch: Arch): Promise<Figure[]> {
  const out: Figure[] = [];
  {
    const m = await machineFor(arch, LOOPS[arch]);
    const t0 = performance.now();
    m.run({ maxSteps: 100_000_000 });
    const ms = performance.now() - t0;
    out.push({
      name: `${arch}: guest instructions per second (tight loop)`,
      value: Math.round(m.steps / (ms / 1000)),
      unit: "insn/s",
      target: "hundreds of millions (DESIGN)",
      note: `${m.steps} instructions in ${ms.toFixed(0)} ms; ${m.halted ? "halted" : "NOT halted"}`,
    });
  }
  {
    const m = await machineFor(arch, EXIT_LOOPS[arch]);
    const t0 = performance.now();
    m.run({ maxSteps: 100_000_000 });
    const ms = performance.now() - t0;
    out.push({
      name: `${arch}: cost of one simulated exit (trap rule + trace + handler)`,
      value: Number(((ms * 1000) / Math.max(1, m.exits.total)).toFixed(2)),
      unit: "µs/exit",
      target: "well under 1 µs (DESIGN)",
      note: `${m.exits.total} exits in ${ms.toFixed(0)} ms`,
    });
  }
  return out;
}

function print(figures: Figure[]): void {
  const rows = figures.map((f) => [f.name, `${f.value.toLocaleString("en-US")} ${f.unit}`, f.target ?? "", f.note ?? ""]);
  const head = ["measure", "value", "target", "note"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  console.log([line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n"));
}

async function main(): Promise<void> {
  const figures: Figure[] = [];
  for (const arch of ["arm64", "x86_64"] as const) figures.push(...(await benchArch(arch)));
  const kernel = await import("./kernel.js").catch(() => undefined);
  if (kernel) figures.push(...(await kernel.benchKernel()));
  print(figures);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
