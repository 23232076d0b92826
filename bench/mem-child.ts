// Child process of the memory measure (bench/memory.ts): `node dist/bench/mem-child.js ARCH N`
// runs the exit loop of N iterations on a fresh machine with the default settings (exits kept in
// machine.exits and the trace recorded, each up to its cap) and prints one JSON line with its own peak
// RSS. Being its own process, the figure is this run's alone.

import { performance } from "node:perf_hooks";
import type { Arch } from "../runtime/core/machine.js";
import { createMachine } from "../runtime/index.js";
import { exitlabExitLoop } from "./guests.js";
import { settingDef } from "../runtime/core/settings.js";

export interface MemChildResult {
  arch: Arch;
  n: number;
  /** Exits in all, and those machine.exits keeps (its cap). */
  exits: number;
  kept: number;
  traceEvents: number;
  traceDropped: number;
  halted: boolean;
  ms: number;
  /** process.resourceUsage().maxRSS in bytes (Node reports KiB). */
  maxRssBytes: number;
  /**
   * RSS in bytes just before the run (machine created) and just after it (the machine still
   * reachable): their difference is what the run's kept exits and events hold. The peak alone can
   * be start-up's (module compilation), which a short run does not exceed.
   */
  rssBeforeBytes: number;
  rssAfterBytes: number;
}

function main(): void {
  const arch = process.argv[2] as Arch;
  const n = Number(process.argv[3]);
  if ((arch !== "arm64" && arch !== "x86_64") || !Number.isInteger(n) || n < 1) {
    console.error("usage: mem-child.js arm64|x86_64 N");
    process.exit(2);
  }
  const m = createMachine(arch, { guest: { source: exitlabExitLoop(arch, n) }, settings: { stepLimit: settingDef("stepLimit")!.max! } });
  const rssBeforeBytes = process.memoryUsage.rss();
  const t0 = performance.now();
  m.run({ maxSteps: 1e15 });
  const ms = performance.now() - t0;
  const rssAfterBytes = process.memoryUsage.rss();
  const out: MemChildResult = {
    arch,
    n,
    exits: m.exits.total,
    kept: m.exits.length,
    traceEvents: m.trace.length,
    traceDropped: m.trace.dropped,
    halted: m.halted !== null,
    ms,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    rssBeforeBytes,
    rssAfterBytes,
  };
  // The machine stays reachable until here, so nothing it kept could be collected before the peak.
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main();
