// Tight-loop speed of the x86 engine (not a vitest file): `npx npm run build && node test/runtime/x86/perf/loop-bench.mjs [jit|nojit]`.
import { performance } from "node:perf_hooks";
import { createMachine } from "../../../../dist/runtime/index.js";

const LOOPS = {
  "add/dec/jnz": `
    .code32
    start:
      mov $N, %ecx
    1: add $1, %eax
      dec %ecx
      jnz 1b
      mov $0xf4, %dx
      mov $0, %al
      out %al, %dx
  `,
  "add/mov/shr/xor/dec/jnz": `
    .code32
    start:
      mov $N, %esi
    1: add %edx, %eax
      mov %eax, %ebx
      shr $3, %ebx
      xor %ebx, %ecx
      dec %esi
      jnz 1b
      mov $0xf4, %dx
      mov $0, %al
      out %al, %dx
  `,
  "load/add/store/inc/and/dec/jnz": `
    .code32
    start:
      mov $N, %esi
    1: mov 0x600000(,%edi,4), %eax
      add %eax, %edx
      mov %edx, 0x601000(,%edi,4)
      inc %edi
      and $255, %edi
      dec %esi
      jnz 1b
      mov $0xf4, %dx
      mov $0, %al
      out %al, %dx
  `,
  "call/add/ret/dec/jnz (3 blocks per iteration)": `
    .code32
    start:
      mov $0x5f0000, %esp
      mov $N, %esi
    1: call 2f
      dec %esi
      jnz 1b
      mov $0xf4, %dx
      mov $0, %al
      out %al, %dx
    2: add $1, %eax
      ret
  `,
  "64-bit: add/add/dec/jnz on 64-bit registers": `
    .code32
    start:
      lgdtl gdt64_desc
      mov %cr4, %eax
      bts $5, %eax
      mov %eax, %cr4
      mov $ptl4, %eax
      mov %eax, %cr3
      mov $0xc0000080, %ecx
      rdmsr
      bts $8, %eax
      wrmsr
      mov %cr0, %eax
      bts $31, %eax
      mov %eax, %cr0
      ljmpl $8, $start64
      .code64
    start64:
      mov $N, %rcx
      mov $0x123456789, %rdx
    1: add %rdx, %rax
      add $1, %rbx
      dec %rcx
      jnz 1b
      mov $0xf4, %dx
      mov $0, %al
      out %al, %dx
      .align 8
    gdt64:
      .quad 0
      .quad 0x00af9b000000ffff
      .quad 0x00cf93000000ffff
    gdt64_end:
    gdt64_desc:
      .word gdt64_end - gdt64 - 1
      .long gdt64
      .balign 4096, 0
    ptl4: .quad ptl3 + 7
      .fill 511, 8, 0
    ptl3: .quad ptl2 + 7
      .fill 511, 8, 0
    ptl2: .quad 0x0000001e7
      .quad 0x0002001e7
      .quad 0x0004001e7
      .quad 0x0006001e7
      .fill 508, 8, 0
  `,
};

const jit = process.argv[2] !== "nojit";
const n = Number(process.argv[3] ?? 3_000_000);
for (const [name, src] of Object.entries(LOOPS)) {
  const m = createMachine("x86_64", { guest: { source: src.replace("N", String(n)) }, settings: { stepLimit: 1_000_000_000, jit } });
  const t0 = performance.now();
  const r = m.run({ maxSteps: 1_000_000_000 });
  const ms = performance.now() - t0;
  console.log(`${name}: ${m.steps} insns in ${ms.toFixed(0)} ms = ${(m.steps / (ms / 1000) / 1e6).toFixed(1)} M insn/s (${r.stop}, jit=${jit})`);
}
