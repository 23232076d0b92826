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
