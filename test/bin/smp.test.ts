// SMP on the arm64 machine through the CLI: `set vcpus`, PSCI CPU_ON of a secondary by a guest,
// `show vcpus`, `vcpu N` and its errors, `ipi`, the device tree's cpus, and determinism.

import { describe, expect, it } from "vitest";
import { cpuOnGuest, run } from "./smp-setup.js";

// vCPU 0 powers vCPU 1 on at `second` with x0 = 0x55 (PSCI CPU_ON, HVC), asks AFFINITY_INFO of
// vCPU 1 and of a vCPU that does not exist, then waits for vCPU 1's flag and powers the VM off;
// vCPU 1 writes x0 to the flag and blocks in WFI.
const GUEST = cpuOnGuest(
  0x55,
  `
  mov x20, x0
  movz x0, #0x0003
  movk x0, #0xc400, lsl #16
  mov x1, #1
  hvc #0
  mov x21, x0
  movz x0, #0x0004
  movk x0, #0xc400, lsl #16
  mov x1, #1
  mov x2, #0
  hvc #0
  mov x22, x0
  movz x0, #0x0004
  movk x0, #0xc400, lsl #16
  mov x1, #7
  mov x2, #0
  hvc #0
  mov x23, x0`,
  `
  adr x9, flag
  str x0, [x9]
  wfi
  b second`,
);

describe("arm64 SMP through the CLI", () => {
  const program = `set vcpus 2\nset era today\nvm boot arm64 ${GUEST}\nrun\nshow vcpus\nprint x20, x21, x22, x23\nvcpu 1\nshow regs\nshow exit\nshow dtb\n`;

  it("PSCI CPU_ON starts vCPU 1 at its entry with the context id in x0; ALREADY_ON, AFFINITY_INFO ON/OFF", () => {
    const r = run(program);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    // SUCCESS 0, ALREADY_ON -4, AFFINITY_INFO ON 0 for vCPU 1, OFF 1 for a vCPU that does not exist.
    expect(r.out).toMatch(/^0x0 0xfffffffffffffffc 0x0 0x1$/m);
    expect(r.out).toMatch(/^ +1 +(running|blocked) +0x80000001 /m);
    expect(r.out).toContain("arm64 registers (guest view of vCPU 1)");
    expect(r.out).toMatch(/^x0 +0x55$/m);
    expect(r.out).toMatch(/^vcpu +1$/m);
    expect(r.out).toContain("cpu@1 {");
  });

  it("is deterministic: the same program prints the same bytes", () => {
    expect(run(program).out).toBe(run(program).out);
  });

  it("vcpu N out of range is an error with line, column and hint", () => {
    const r = run(`set vcpus 2\nvm boot arm64\nvcpu 3\n`);
    expect(r.status).toBe(1);
    expect(r.err).toContain("line 3, column 6: no vCPU 3: this VM has 2 vCPUs (0..1)");
    expect(r.err).toContain("hint: vcpu 0..1");
  });

  it("a one-vCPU VM says how to get more, on either machine", () => {
    expect(run(`vm boot arm64\nvcpu 1\n`).err).toContain("hint: boot with more: `set vcpus 2` before `vm boot`");
    expect(run(`vm boot x86_64\nvcpu 1\n`).err).toContain("hint: boot with more: `set vcpus 2` before `vm boot`");
  });

  it("a booted VM keeps its vCPUs; set vcpus is checked", () => {
    expect(run(`set vcpus 2\nvm boot arm64\nset vcpus 4 for arm64\n`).err).toContain("a booted VM keeps its 2 vCPUs");
    expect(run(`set vcpus 9\n`).err).toMatch(/vcpus must be .*1 to 8/);
  });

  it("ipi from the VMM makes an SGI pending for a vCPU", () => {
    const r = run(`set vcpus 2\nvm boot arm64\nipi 1 sgi 3\nipi 0\n`);
    expect(r.status).toBe(0);
    expect(r.out).toContain("SGI 3 pending for vCPU 1");
    expect(r.out).toContain("powered off");
    expect(r.out).toContain("SGI 0 pending for vCPU 0");
    expect(run(`set vcpus 2\nvm boot arm64\nipi 1 sgi 16\n`).err).toContain("SGI 16 out of range");
  });
});
