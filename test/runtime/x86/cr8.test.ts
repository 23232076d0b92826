// MOV to/from CR8 on the compiled path (runtime/x86/isa/semantics/fast-system.ts): with KVM's TPR
// shadow (no CR8-load/-store exiting; SDM Vol. 3 29.3) a loop of CR8 moves runs in compiled blocks
// without exits, and leaves what the interpreter (setting jit off) leaves: registers, steps,
// exits — also when a write with reserved bits set faults (#GP, SDM Vol. 2 MOV CR).

import { describe, expect, test } from "vitest";
import { createX86Machine, type X86Machine } from "../../../runtime/x86/machine.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../../../runtime/guests/x86_64/long-mode.js";

const guest = (body: string) => `
  .code32
start:
  mov $0x5f0000, %esp
  ${LONG_MODE_ENTRY}
  mov $0x5f0000, %rsp
  ${body}
  mov $0xf4, %dx
  out %al, %dx
  ${LONG_MODE_TABLES}
`;

/** 1000 rounds: CR8 ← rcx & 15, rax ← CR8, rdx += rax; the sum in rsi. */
const LOOP = guest(`
  xor %ecx, %ecx
  xor %edx, %edx
loop:
  mov %rcx, %rax
  and $15, %rax
  mov %rax, %cr8
  mov %cr8, %rax
  add %rax, %rdx
  inc %ecx
  cmp $1000, %ecx
  jne loop
  mov %rdx, %rsi
`);

const NAMES = ["rax", "rcx", "rdx", "rsi", "rsp", "rip", "rflags", "cr8"];
function snapshot(m: X86Machine) {
  return {
    regs: Object.fromEntries(NAMES.map((n) => [n, m.readRegister(n).toString(16)])),
    steps: m.steps,
    halted: m.halted?.message ?? null,
    exits: m.exits.byReason().map((r) => `${r.reason} ${r.count}`),
  };
}

const run = (src: string, jit: boolean) => {
  const m = createX86Machine({ guest: { source: src }, settings: { jit, era: "today" } });
  m.run({ maxSteps: 1_000_000 });
  return m;
};

describe("MOV CR8 on the compiled path", () => {
  test("a loop of CR8 writes and reads: no CR exits, the interpreter's registers and steps", () => {
    const a = run(LOOP, false);
    const b = run(LOOP, true);
    expect(a.halted?.message).toMatch(/debug-exit/);
    // Σ (i & 15) for i < 1000: 62 full rounds of 0..15 (120 each) and 0..7.
    expect(b.readRegister("rsi")).toBe(BigInt(62 * 120 + 28));
    // The long-mode entry's CR0/CR4 writes exit; no MOV CR8 does (exit qualification bits 3:0, SDM Table 28-3).
    const cr8Exits = (m: X86Machine) => m.exits.map((e) => e).filter((e) => e.reason === "CR_ACCESS" && (Number(e.info.exit_qualification) & 15) === 8).length;
    expect(cr8Exits(b)).toBe(0);
    expect(snapshot(b)).toEqual(snapshot(a));
    // The loop's MOV CR8s are in a compiled block.
    const loop = b.symbols.get("loop")!;
    b.cpu.state.rip = loop;
    b.cpu.invalidateFetch();
    const block = b.cpu.blockAt();
    expect(block?.insns.map((i) => i.spec.sem)).toContain("movtocr");
  });

  test("reserved bits 63:4 fault (#GP) at the same instruction on both paths", () => {
    const src = guest(`
      mov $16, %rax
      mov %rax, %cr8
    `);
    const a = run(src, false);
    const b = run(src, true);
    expect(snapshot(b)).toEqual(snapshot(a));
    expect(a.halted?.message ?? "").not.toMatch(/debug-exit/);
  });

  test("with CR8-load exiting on, the compiled write exits (CR_ACCESS) as the interpreter's does", () => {
    const src = LOOP;
    const snaps = [false, true].map((jit) => {
      const m = createX86Machine({ guest: { source: src }, settings: { jit, era: "today" } });
      m.vmcs.setBits("CPU_BASED_VM_EXEC_CONTROL", 1 << 19, true); // CR8-load exiting (SDM Table 25-6)
      m.run({ maxSteps: 1_000_000 });
      return snapshot(m);
    });
    expect(snaps[0]!.exits.find((e) => e.startsWith("CR_ACCESS"))).toMatch(/CR_ACCESS 1\d{3}/); // the prologue's few and 1000 MOV CR8
    expect(snaps[1]).toEqual(snaps[0]);
  });
});
