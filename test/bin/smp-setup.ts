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

/**
 * An x86 guest (an `asm mode 32 { … }` block) for two vCPUs: the BSP copies the AP's real-mode
 * code to 0x8000, software-enables its APIC, sends INIT then STARTUP vector 8 to all but itself
 * (SDM Vol. 3 8.4.4), waits for the AP's flag at 0x9000, sends vector 0x40 to APIC ID 1 (fixed,
 * physical) and waits for the handler's flag at 0x9002, then stops (cli; hlt). The AP (real mode
 * at 0800:0000) points IVT entry 0x40 at its handler, enables x2APIC through IA32_APIC_BASE and
 * its SVR through MSR 0x80f, sets the flag, enables interrupts and runs `apWait` (assembly lines:
 * how it waits for the IPI); the handler sets the second flag and writes the x2APIC EOI.
 */
export function ipiGuest(apWait: string): string {
  return `asm mode 32 {
start:
  mov $ap_start, %esi
  mov $0x8000, %edi
  mov $(ap_end - ap_start), %ecx
  rep movsb
  movl $0x1ff, 0xfee000f0
  movl $0, 0xfee00310
  movl $0x000c4500, 0xfee00300
  movl $0x000c4608, 0xfee00300
wait:
  cmpw $0x55, 0x9000
  jne wait
  movl $0x01000000, 0xfee00310
  movl $0x00004040, 0xfee00300
wait2:
  cmpw $0x66, 0x9002
  jne wait2
  cli
  hlt
.code16
ap_start:
  xor %ax, %ax
  mov %ax, %ds
  movw $(handler - ap_start + 0x8000), 0x100
  movw $0, 0x102
  mov $0x1b, %ecx
  rdmsr
  or $0xc00, %eax
  wrmsr
  mov $0x80f, %ecx
  mov $0x1ff, %eax
  xor %edx, %edx
  wrmsr
  movw $0x55, 0x9000
  sti
${apWait}
handler:
  movw $0x66, 0x9002
  mov $0x80b, %ecx
  xor %eax, %eax
  xor %edx, %edx
  wrmsr
  iret
ap_end:
}`;
}
