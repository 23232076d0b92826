// Measure 5: a real guest's boot. kvm-unit-tests' arm64 selftest.flat, loaded as QEMU loads it
// (runtime/arm64/image.ts, through bench/kut-loader.ts), timed from creating the machine to the first console line beginning with
// "PASS"; beside it qemu-system-aarch64 (TCG) booting the same file, when installed.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { bootSystemQemu, systemQemu, type SystemBoot } from "./anchor.js";
import { bootToFirstPass, type KutBoot } from "./kut-loader.js";

export const KUT_APPEND = "setup smp=1 mem=128";

export interface KutResult {
  skipped: boolean;
  exitlab?: KutBoot;
  qemu?: SystemBoot;
  qemuMissing?: string;
  note: string;
}

/** ../shared/guests/kvm-unit-tests/arm64/selftest.flat beside the checkout (dist/bench/ → root). */
export function selftestPath(): string {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  return join(root, "..", "shared", "guests", "kvm-unit-tests", "arm64", "selftest.flat");
}

export async function benchKut(): Promise<KutResult> {
  const file = selftestPath();
  if (!existsSync(file)) {
    return { skipped: true, note: `skipped: ${file} not found (the kvm-unit-tests binaries live in the shared folder beside the checkout, not in the repository)` };
  }
  let exitlab: KutBoot;
  try {
    exitlab = bootToFirstPass(file, KUT_APPEND);
  } catch (e) {
    return { skipped: false, note: `exitlab could not boot it: ${(e as Error).message}` };
  }
  const r: KutResult = { skipped: false, exitlab, note: "" };
  const parts = [
    `-append '${KUT_APPEND}'`,
    exitlab.msToPass !== undefined ? `exitlab: "${exitlab.firstPassLine}"` : `exitlab: ${exitlab.outcome}`,
    `${exitlab.steps.toLocaleString("en-US")} insns, ${exitlab.exits} exits`,
  ];
  const qemu = systemQemu();
  if (!qemu) r.qemuMissing = "not installed";
  else {
    r.qemu = await bootSystemQemu(qemu, file, KUT_APPEND);
    parts.push(`QEMU (TCG, -cpu max, spawn → PASS): ${r.qemu.outcome}`);
  }
  if (!qemu) parts.push("qemu-system-aarch64 not installed");
  r.note = parts.join("; ");
  return r;
}
