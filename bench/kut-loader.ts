// Bench-only loader for kvm-unit-tests arm64 images (*.flat): exitlab has no binary loader yet, so
// this creates an arm64 machine with a one-instruction placeholder guest, then does what QEMU's
// -kernel does on mach-virt for an arm64 Image: copy the raw image to RAM base + 0x80000
// (0x40080000), put a device tree carrying the -append command line in /chosen/bootargs where
// QEMU puts it (0x44000000 with 128 MiB), and reset the vcpu with pc = the image's first byte and x0 = the tree's address.
// It uses the machine's internals (memory.writeBytes, kvm.reset): no runtime file is changed.

import { existsSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { createArm64Machine, GUEST_RAM_BASE, GUEST_RAM_SIZE, type Arm64Machine } from "../runtime/arm64/machine.js";
import { buildDtb } from "../runtime/guests/arm64/dtb.js";
import { PL011_BASE, PL011_SIZE } from "../runtime/devices/pl011.js";

export const KUT_LOAD_ADDRESS = GUEST_RAM_BASE + 0x8_0000;
/**
 * Where QEMU (hw/arm/boot.c) puts the tree with no initrd: RAM base + min(RAM / 2, 128 MiB), i.e.
 * 0x44000000 for -m 128 — the address runtime/arm64/loader.ts uses too (kvm-unit-tests asserts the
 * tree lies above its stack).
 */
export const KUT_DTB_ADDRESS = GUEST_RAM_BASE + Math.min(GUEST_RAM_SIZE / 2, 128 * 1024 * 1024);

/** The mach-virt tree of runtime/guests/arm64/dtb.ts (machVirtDtb) plus /chosen/bootargs. */
export function kutDtb(bootargs: string): Uint8Array {
  const hi = (v: number) => Math.floor(v / 2 ** 32);
  const lo = (v: number) => v >>> 0;
  const uart = `pl011@${PL011_BASE.toString(16)}`;
  return buildDtb({
    name: "",
    props: { compatible: "linux,dummy-virt", "#address-cells": [2], "#size-cells": [2], "interrupt-parent": [1] },
    children: [
      { name: "chosen", props: { bootargs, "stdout-path": `/${uart}` } },
      { name: `memory@${GUEST_RAM_BASE.toString(16)}`, props: { device_type: "memory", reg: [hi(GUEST_RAM_BASE), lo(GUEST_RAM_BASE), hi(GUEST_RAM_SIZE), lo(GUEST_RAM_SIZE)] } },
      { name: uart, props: { compatible: "arm,pl011\0arm,primecell", reg: [0, PL011_BASE, 0, PL011_SIZE] } },
      { name: "psci", props: { compatible: "arm,psci-0.2\0arm,psci", method: "hvc" } },
      {
        name: "cpus",
        props: { "#address-cells": [1], "#size-cells": [0] },
        children: [{ name: "cpu@0", props: { device_type: "cpu", compatible: "arm,cortex-a57", reg: [0], "enable-method": "psci" } }],
      },
    ],
  });
}

/** An arm64 machine with `image` at 0x40080000 and the tree at 0x44000000, stopped at the image's entry. */
export function loadKutImage(image: Uint8Array, bootargs: string, stepLimit = 1_000_000_000): Arm64Machine {
  const m = createArm64Machine({ guest: { source: "_start:\n  b _start\n" }, settings: { stepLimit } });
  const dtb = kutDtb(bootargs);
  if (KUT_LOAD_ADDRESS + image.length > GUEST_RAM_BASE + GUEST_RAM_SIZE) throw new Error("image does not fit guest RAM");
  if (KUT_LOAD_ADDRESS + image.length > KUT_DTB_ADDRESS) throw new Error("the image overlaps the device tree");
  m.memory.writeBytes(KUT_LOAD_ADDRESS, image);
  m.memory.writeBytes(KUT_DTB_ADDRESS, dtb);
  m.kvm.reset(BigInt(KUT_LOAD_ADDRESS), BigInt(KUT_DTB_ADDRESS));
  return m;
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
