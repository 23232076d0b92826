// Booting a kvm-unit-tests arm64 image for the bench: the machine loads it as QEMU's -kernel does
// (runtime/arm64/image.ts: a raw image at 0x40080000, x0 = the device tree at 0x44000000 with the
// command line in /chosen/bootargs), and bootToFirstPass times it to its first PASS line.

import { existsSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createArm64Machine, type Arm64Machine } from "../runtime/arm64/machine.js";

/** An arm64 machine with the kvm-unit-tests `image` loaded, stopped at its entry. */
export function loadKutImage(image: Uint8Array, bootargs: string, stepLimit = 1_000_000_000): Arm64Machine {
  return createArm64Machine({ guest: { image, append: bootargs }, settings: { stepLimit } });
}

export interface KutBoot {
  /** ms from creating the machine to the first console line beginning with PASS; undefined if none. */
  msToPass?: number;
  /** ms the whole attempt took (to PASS, halt or the budget). */
  ms: number;
  steps: number;
  exits: number;
  firstPassLine?: string;
  /** How the run ended, in words. */
  outcome: string;
  console: string;
}

const firstPass = (text: string): string | undefined => {
  const i = text.startsWith("PASS") ? 0 : text.indexOf("\nPASS");
  if (i < 0) return undefined;
  const start = i === 0 ? 0 : i + 1;
  const end = text.indexOf("\n", start);
  return end < 0 ? undefined : text.slice(start, end); // a whole line only
};

/** Boot `file` and stop at the first PASS line, a halt, or after `maxMs` / `maxSteps`. */
export function bootToFirstPass(file: string, bootargs: string, maxMs = 60_000, maxSteps = 2_000_000_000): KutBoot {
  const image = readFileSync(file);
  const t0 = performance.now();
  const m = loadKutImage(image, bootargs);
  let line: string | undefined;
  let seen = 0; // console length already searched
  const found = (): boolean => {
    const c = m.console;
    if (c.length === seen) return false;
    seen = c.length;
    line = firstPass(c);
    return line !== undefined;
  };
  let outcome = "";
  let msToPass: number | undefined;
  for (;;) {
    // Slices of 1M instructions + exits keep the wall-clock check cheap; the console is checked
    // at every exit (the PL011 is MMIO, so every character the guest prints is an exit).
    const r = m.run({ maxSteps: 1_000_000, stopOnExit: () => found() });
    if (line !== undefined || found()) {
      msToPass = performance.now() - t0;
      outcome = "PASS line seen";
      break;
    }
    if (r.stop === "halted") {
      outcome = `halted before any PASS line: ${r.message ?? ""}`;
      break;
    }
    if (r.stop === "exit") continue;
    if (performance.now() - t0 > maxMs || m.steps > maxSteps) {
      outcome = `no PASS line after ${Math.round(performance.now() - t0)} ms`;
      break;
    }
  }
  return { msToPass, ms: performance.now() - t0, steps: m.steps, exits: m.exits.total, firstPassLine: line, outcome, console: m.console };
}

export const kutAvailable = (file: string): boolean => existsSync(file);
