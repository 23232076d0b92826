// The interrupt round trip on Numbers (runtime/x86/fast-events.ts): 64-bit delivery through an IDT
// gate and IRETQ at CPL 0 when the gate, the GDT descriptors and the stack frame are in the data
// TLB. Checked against the SDM's 64-bit frame (Vol. 3 6.14.2, Figure 6-9) on a CPU of its own, and
// against the general paths (delivery.ts pushFrame, the BigInt IRET) on a whole guest: the same
// guest with a data breakpoint armed (which keeps the data TLB empty, so every interrupt takes
// the general path) leaves the same trace, registers and memory.

import { describe, expect, test } from "vitest";
import { fastIret64, fastPushFrame64, type FastEventCpu } from "../../../runtime/x86/fast-events.js";
import { X86Regs } from "../../../runtime/x86/regs.js";
import { createMachine } from "../../../runtime/index.js";
import type { X86Machine } from "../../../runtime/x86/machine.js";
import { IDT64_TABLE, X2APIC_EOI, idtGate64, x2apicPeriodicTimer } from "../../../runtime/guests/x86_64/apic-timer.js";
import { LONG_MODE_ENTRY, LONG_MODE_TABLES } from "../../../runtime/guests/x86_64/long-mode.js";

const IDT = 0x10000, GDT = 0x11000, STACK_TOP = 0x12ff8;
const CODE64 = 0x00af9a000000ffffn; // 64-bit code, DPL 0, present (the accessed bit clear: the register holds it set)
const DATA = 0x00cf92000000ffffn;

/** A CPU with three RAM pages (IDT, GDT, stack) in its data TLB, in 64-bit mode at CPL 0. */
function fakeCpu(): { cpu: FastEventCpu; pages: Map<number, Uint8Array> } {
  const s = new X86Regs();
  s.mode = "long64";
  s.seg = {
    es: { selector: 0x10, base: 0n, limit: 0xffff_ffff, attributes: 0xc093 },
    cs: { selector: 0x08, base: 0n, limit: 0xffff_ffff, attributes: 0xa09b },
    ss: { selector: 0x10, base: 0n, limit: 0xffff_ffff, attributes: 0xc093 },
    ds: { selector: 0x10, base: 0n, limit: 0xffff_ffff, attributes: 0xc093 },
    fs: { selector: 0x10, base: 0n, limit: 0xffff_ffff, attributes: 0xc093 },
    gs: { selector: 0x10, base: 0n, limit: 0xffff_ffff, attributes: 0xc093 },
  };
  s.gdtr = { base: BigInt(GDT), limit: 3 * 8 - 1 };
  s.idtr = { base: BigInt(IDT), limit: 256 * 16 - 1 };
  const pages = new Map<number, Uint8Array>();
  const rKey = new Float64Array(256).fill(NaN), wKey = new Float64Array(256).fill(NaN);
  const rArr: (Uint8Array | null)[] = new Array(256).fill(null);
  for (const base of [IDT, GDT, STACK_TOP & ~0xfff]) {
    const page = base / 4096, a = new Uint8Array(4096);
    pages.set(page, a);
    const i = (page ^ (page >>> 8)) & 255;
    rKey[i] = page;
    rArr[i] = a;
    if (base === (STACK_TOP & ~0xfff)) wKey[i] = page;
  }
  const cpu: FastEventCpu = {
    state: s, rKey, rArr, wKey, emulating: null,
    wr(_seg, lo, hi, size, vlo, vhi) {
      const lin = (hi | 0) * 4294967296 + (lo >>> 0);
      const a = pages.get(Math.floor(lin / 4096))!;
      const o = lin % 4096;
      new DataView(a.buffer).setUint32(o, vlo >>> 0, true);
      if (size === 8) new DataView(a.buffer).setUint32(o + 4, vhi >>> 0, true);
    },
  };
  const put = (addr: number, v: bigint) => new DataView(pages.get(Math.floor(addr / 4096))!.buffer).setBigUint64(addr % 4096, v, true);
  put(GDT + 8, CODE64);
  put(GDT + 16, DATA);
  return { cpu, pages };
}

/** A 64-bit interrupt gate (SDM Vol. 3 Figure 6-8): target, selector, IST, type 0xE or 0xF, present. */
function gate(pages: Map<number, Uint8Array>, vector: number, target: bigint, ist = 0, type = 0xe): void {
  const d = new DataView(pages.get(IDT / 4096)!.buffer);
  const o = vector * 16;
  d.setUint16(o, Number(target & 0xffffn), true);
  d.setUint16(o + 2, 0x08, true);
  d.setUint16(o + 4, ist | (type << 8) | 0x8000, true);
  d.setUint16(o + 6, Number((target >> 16n) & 0xffffn), true);
  d.setUint32(o + 8, Number(target >> 32n), true);
}

const qword = (pages: Map<number, Uint8Array>, addr: number): bigint => new DataView(pages.get(Math.floor(addr / 4096))!.buffer).getBigUint64(addr % 4096, true);

describe("fastPushFrame64 / fastIret64 on a CPU of their own", () => {
  test("an interrupt gate pushes SS, RSP, RFLAGS, CS, RIP on the 16-byte-aligned stack (SDM Vol. 3 6.14.2) and clears IF; IRETQ pops them back", () => {
    const { cpu, pages } = fakeCpu();
    const s = cpu.state;
    s.pc = 0x401234;
    s.rflags = 0x202n | 0x100n; // IF and TF
    s.gpr[4] = BigInt(STACK_TOP + 4); // misaligned: the frame starts at the aligned address below
    s.gpr[0] = 0x55n;
    gate(pages, 0x30, 0xffff_ffff_8000_1000n);
    expect(fastPushFrame64(cpu, 0x30, undefined, undefined)).toBe(true);
    const sp = (STACK_TOP + 4) & ~0xf;
    expect([1, 2, 3, 4, 5].map((k) => qword(pages, sp - 8 * k))).toEqual([0x10n, BigInt(STACK_TOP + 4), 0x302n, 0x08n, 0x401234n]);
    expect(s.gpr[4]).toBe(BigInt(sp - 40));
    expect(s.rip).toBe(0xffff_ffff_8000_1000n);
    expect(s.rflags).toBe(0x2n); // IF and TF cleared by the interrupt gate
    s.npc = 0;
    expect(fastIret64(cpu, 8)).toBe(true);
    expect(BigInt.asUintN(64, BigInt(s.npc))).toBe(0x401234n);
    expect(s.gpr[4]).toBe(BigInt(STACK_TOP + 4));
    expect(s.rflags).toBe(0x302n);
    expect(s.gpr[0]).toBe(0x55n);
  });

  test("an error code is pushed last, and a trap gate leaves IF set", () => {
    const { cpu, pages } = fakeCpu();
    const s = cpu.state;
    s.pc = 0x400000;
    s.rflags = 0x202n;
    s.gpr[4] = BigInt(STACK_TOP);
    gate(pages, 13, 0x402000n, 0, 0xf);
    expect(fastPushFrame64(cpu, 13, 0x18, 0x400000n)).toBe(true);
    const sp = STACK_TOP & ~0xf;
    expect(qword(pages, sp - 48)).toBe(0x18n);
    expect(s.gpr[4]).toBe(BigInt(sp - 48));
    expect(s.rflags).toBe(0x202n);
  });

  test("cases it leaves to the general path change nothing: an IST gate, CPL 3, a gate not in the data TLB, a changed GDT descriptor, another CS in the IRET frame", () => {
    const cases: [string, (c: FastEventCpu, p: Map<number, Uint8Array>) => void][] = [
      ["IST", (_c, p) => gate(p, 0x30, 0x402000n, 1)],
      ["CPL 3", (c, p) => (gate(p, 0x30, 0x402000n), (c.state.seg.cs = { ...c.state.seg.cs, selector: 0x0b }))],
      ["not in the TLB", (c, p) => (gate(p, 0x30, 0x402000n), c.rKey.fill(NaN))],
      ["GDT descriptor", (_c, p) => (gate(p, 0x30, 0x402000n), new DataView(p.get(GDT / 4096)!.buffer).setBigUint64(8, CODE64 & ~0xffffn, true))],
    ];
    for (const [what, set] of cases) {
      const { cpu, pages } = fakeCpu();
      const s = cpu.state;
      s.pc = 0x401000;
      s.rflags = 0x202n;
      s.gpr[4] = BigInt(STACK_TOP);
      set(cpu, pages);
      const stack = pages.get(STACK_TOP >> 12)!.slice();
      expect(fastPushFrame64(cpu, 0x30, undefined, undefined), what).toBe(false);
      expect([s.pc, s.gpr[4], s.rflags], what).toEqual([0x401000, BigInt(STACK_TOP), 0x202n]);
      expect(pages.get(STACK_TOP >> 12), what).toEqual(stack);
    }
    const { cpu, pages } = fakeCpu();
    const s = cpu.state;
    s.gpr[4] = BigInt(STACK_TOP - 40);
    const d = new DataView(pages.get(STACK_TOP >> 12)!.buffer);
    [0x401000n, 0x18n, 0x202n, BigInt(STACK_TOP), 0x10n].forEach((v, k) => d.setBigUint64(((STACK_TOP - 40) % 4096) + 8 * k, v, true));
    s.nmiBlocked = true;
    expect(fastIret64(cpu, 8), "a CS the register does not hold").toBe(false);
    expect(s.nmiBlocked).toBe(true);
    expect(fastIret64(cpu, 4), "IRETD").toBe(false);
  });
});

/**
 * A 64-bit guest taking x2APIC timer interrupts (periodic, vector 0x30) while it counts: the
 * handler records its frame and the registers it found, ends the interrupt (EOI) and returns by
 * IRETQ; the guest stops after TICKS of them.
 */
const TICKS = 40;
const GUEST = `
    .code32
start:
    mov $0x700000, %esp
${LONG_MODE_ENTRY}
${idtGate64("handler")}${x2apicPeriodicTimer(5000)}
    xor %ebx, %ebx
1:  add $3, %rbx
    sub $1, %rsp
    add $1, %rsp
    cmpl $${TICKS}, ticks(%rip)
    jb 1b
    cli
    xor %eax, %eax
    out %al, $0xf4
    hlt
handler:
    push %rax
    push %rcx
    push %rdx
    mov ticks(%rip), %eax
    and $7, %eax
    shl $6, %eax
    lea frames(%rip), %rcx
    add %rax, %rcx
    mov 24(%rsp), %rax
    mov %rax, (%rcx)
    mov 32(%rsp), %rax
    mov %rax, 8(%rcx)
    mov 40(%rsp), %rax
    mov %rax, 16(%rcx)
    mov 48(%rsp), %rax
    mov %rax, 24(%rcx)
    mov 56(%rsp), %rax
    mov %rax, 32(%rcx)
    mov %rbx, 40(%rcx)
    incl ticks(%rip)${X2APIC_EOI}
    pop %rdx
    pop %rcx
    pop %rax
    iretq
${IDT64_TABLE}
${LONG_MODE_TABLES}
    .balign 4096, 0
ticks:
    .long 0
    .balign 64, 0
frames:
    .fill 64, 8, 0
`;

function run(generalPath: boolean): { trace: string; exits: number; time: number; regs: bigint[]; frames: Uint8Array; steps: number; halted: string | undefined } {
  const m = createMachine("x86_64", { guest: { source: GUEST }, settings: { stepLimit: 5_000_000 } }) as X86Machine;
  if (generalPath) {
    // A data breakpoint on a byte the guest never touches (DR0 = 8, read/write, 1 byte, L0): the
    // CPU's data TLB stays empty, so delivery and IRET take the general (BigInt) paths.
    const cpu = (m as unknown as { cpu: { setDebugRegister(n: number, v: bigint): void } }).cpu;
    cpu.setDebugRegister(0, 8n);
    cpu.setDebugRegister(7, 0x30001n);
  }
  m.run({ maxSteps: 5_000_000 });
  const frames = m.readPhysical(Number(m.symbols.get("frames")!), 512);
  return { trace: m.trace.lines("today").join("\n"), exits: m.exits.total, time: m.time, regs: ["rax", "rbx", "rcx", "rdx", "rsp", "rip", "rflags"].map((r) => m.readRegister(r)), frames, steps: m.steps, halted: m.halted?.message };
}

test("a 64-bit guest's timer interrupts: the Number paths leave the trace, registers and frames of the general paths", () => {
  const fast = run(false);
  const general = run(true);
  expect(fast.halted).toMatch(/isa-debug-exit/);
  expect(fast.trace.split("\n").filter((l) => l.includes("kvm_exit")).length).toBeGreaterThan(TICKS);
  // Each recorded frame: RIP in the loop, CS 8, RFLAGS with IF, an RSP the loop had, SS 0x10.
  const d = new DataView(fast.frames.buffer, fast.frames.byteOffset);
  for (let k = 0; k < 8; k++) {
    expect(d.getBigUint64(64 * k + 8, true)).toBe(8n);
    expect(d.getBigUint64(64 * k + 16, true) & 0x200n).toBe(0x200n);
    expect(d.getBigUint64(64 * k + 32, true)).toBe(0x10n);
  }
  expect([fast.steps, fast.exits, fast.time]).toEqual([general.steps, general.exits, general.time]);
  expect(fast.regs).toEqual(general.regs);
  expect(fast.frames).toEqual(general.frames);
  expect(fast.trace).toBe(general.trace);
});
