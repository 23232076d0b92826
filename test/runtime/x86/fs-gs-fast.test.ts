// FS/GS-relative loads and stores in 64-bit mode on the data TLB's fast path (cpu.ts fastLinear:
// the base cached as a Number, forgotten when WRMSR, SWAPGS or a segment load may change it):
// per-CPU data as kvm-unit-tests reads it (smp_id() is a %gs load). The values are the
// interpreter's, and a base changed by WRMSR IA32_GS_BASE (0xc0000101) or SWAPGS with
// IA32_KERNEL_GS_BASE (0xc0000102) is seen by the very next access (Intel SDM Vol. 3 3.4.4).

import { expect, test } from "vitest";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../../../runtime/guests/x86_64/long-mode.js";

const wrmsr = (msr: number, value: string) => `
    mov $${msr}, %ecx
    lea ${value}(%rip), %rax
    mov %rax, %rdx
    shr $32, %rdx
    wrmsr`;

const SRC = `
    .code32
start:
    mov $0x700000, %esp
${LONG_MODE_ENTRY}
    mov $0x700000, %rsp
${wrmsr(0xc0000101, "area_a")}
${wrmsr(0xc0000102, "area_b")}
    xor %r8, %r8
    xor %r9, %r9
    mov $3000, %rsi
1:  mov %gs:8, %rax
    add %rsi, %rax
    mov %rax, %gs:8
    add %gs:16, %r8
    dec %rsi
    jnz 1b
${wrmsr(0xc0000101, "area_c")}
    mov $2000, %rsi
2:  addq $5, %gs:8
    add %gs:8, %r9
    dec %rsi
    jnz 2b
    swapgs
    mov %gs:8, %r10
    addq $1, %gs:16
    mov %gs:16, %r11
    mov $0x100, %ecx
3:  incq %fs:0x400000(,%rcx,8)
    loop 3b
    xor %eax, %eax
    out %al, $0xf4
    hlt
${LONG_MODE_TABLES}
    .balign 4096, 0
area_a:
    .quad 1, 100, 7
area_b:
    .quad 2, 200, 9
    .balign 4096, 0
area_c:
    .quad 3, 300, 11
`;

function run(jit: boolean) {
  const m = createX86Machine({ guest: { source: SRC }, settings: { jit, stepLimit: 500_000 } });
  const r = m.run();
  return { stop: r.stop, message: r.message, gpr: [...m.cpu.state.gpr], steps: m.steps, mem: [...m.memory.readBytes(0x400000, 0x1000)] };
}

test("FS/GS loads and stores on the fast path give the interpreter's values, across WRMSR and SWAPGS", () => {
  const fast = run(true);
  const slow = run(false);
  expect(fast).toEqual(slow);
  expect(fast.message).toMatch(/debug-exit|0xf4|SYSTEM_OFF/);
  // r8: 3000 loads of area_a+16 (7); r9: area_c+8 grows by 5 each time, summed; r10/r11: area_b after SWAPGS.
  expect(fast.gpr[8]).toBe(3000n * 7n);
  expect(fast.gpr[9]).toBe(2000n * 300n + 5n * ((2000n * 2001n) / 2n));
  expect(fast.gpr[10]).toBe(200n);
  expect(fast.gpr[11]).toBe(10n);
});
