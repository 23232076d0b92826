// The CLI SMP tests' set-up: a program through `exitlab run -` (the CLI process), and the arm64
// guest they share, whose vCPU 0 starts vCPU 1 by PSCI CPU_ON (Arm DEN 0022 PSCI 5.1.4, function
// ID 0xC4000003; SYSTEM_OFF 0x84000008), waits for its flag and powers the VM off.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Run `program` through `node bin/exitlab.js run -` (stdin); its stdout, stderr and exit status. */
export function run(program: string): { out: string; err: string; status: number | null } {
  const r = spawnSync(process.execPath, ["bin/exitlab.js", "run", "-"], { cwd: ROOT, input: program, encoding: "utf8" });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

/**
 * An arm64 guest (an `asm arm64 { … }` block): vCPU 0 powers vCPU 1 on at `second` with x0 =
 * `context` (PSCI CPU_ON by HVC, x9 = the flag's address), runs `then`, waits until the quad at
 * `flag` is nonzero and powers the VM off (SYSTEM_OFF); vCPU 1 runs `second` (assembly lines,
 * which set the flag).
 */
export function cpuOnGuest(context: number, then: string, second: string): string {
  return `asm arm64 {
start:
  adr x9, flag
  movz x0, #0x0003
  movk x0, #0xc400, lsl #16
  mov x1, #1
  adr x2, second
  mov x3, #${context === 0 ? "0" : `0x${context.toString(16)}`}
  hvc #0${then}
wait:
  ldr x10, [x9]
  cbz x10, wait
  movz x0, #0x0008
  movk x0, #0x8400, lsl #16
  hvc #0
second:${second}
  .balign 8
flag:
  .quad 0
}`;
}
