// 16-bit code as kvm-unit-tests' realmode.c runs it (x86/realmode.c test_div, test_idiv,
// test_lds_lss, test_xlat, test_salc, test_fninit, test_smsw): operand sizes in real mode (16
// bits unless 66h), DIV/IDIV's #DE when the quotient does not fit (SDM Vol. 2A DIV, IDIV), the far
// pointer loads, XLAT, SALC and the x87 control words (semantics/control.ts, semantics/x87.ts).

import { X86FpuState } from "../../../../runtime/x86/fpu-state.js";
import { describe, expect, it } from "vitest";
import { assembleX86 } from "../../../../runtime/x86/isa/index.js";
import { FakeEnv, GuestFault } from "./fake-env.js";

const RAX = 0, RCX = 1, RDX = 2, RBX = 3;

/** Assemble `src` as .code16 at 0x1000 in real mode and run its instructions once each. */
function run16(src: string, setup: (env: FakeEnv) => void = () => {}): FakeEnv {
  const env = new FakeEnv("real");
  const p = assembleX86(src, { bits: 16, base: 0x1000n });
  env.load(0x1000n, p.bytes);
  env.state.rip = 0x1000n;
  setup(env);
  for (let i = 0; i < p.lines.length; i++) env.step();
  return env;
}

/** The vector `src`'s last instruction raises, with the registers it leaves. */
function fault16(src: string, setup: (env: FakeEnv) => void): { vector: number; gpr: bigint[]; before: bigint[] } {
  const env = new FakeEnv("real");
  const p = assembleX86(src, { bits: 16, base: 0x1000n });
  env.load(0x1000n, p.bytes);
  env.state.rip = 0x1000n;
  setup(env);
  const before = [...env.state.gpr];
  try {
    env.step();
  } catch (e) {
    return { vector: (e as GuestFault).vector, gpr: [...env.state.gpr], before };
  }
  throw new Error(`${src} raised nothing`);
}

describe("DIV and IDIV with 16-bit operands (real mode)", () => {
  it("div %cx divides DX:AX, quotient in AX and remainder in DX; the upper halves of EAX/EDX stay", () => {
    const e = run16("mov $512,%ax\nmov $5,%cx\ndiv %cx", (x) => ((x.state.gpr[RAX] = 0xdead0000n), (x.state.gpr[RDX] = 0xbeef0000n)));
    expect(e.state.gpr[RAX]).toBe(0xdead0000n | 102n);
    expect(e.state.gpr[RDX]).toBe(0xbeef0000n | 2n);
  });

  it("idiv %cx: 512 / -2 = -256 (0xff00), remainder 0 (realmode.c 'idiv 2'); idiv %cl: 256 / -2 = -128 in AL", () => {
    const w = run16("mov $512,%ax\nmov $-2,%cx\nidiv %cx", (x) => (x.state.gpr[RDX] = 0n));
    expect(w.state.gpr[RAX]! & 0xffffn).toBe(0xff00n);
    expect(w.state.gpr[RDX]! & 0xffffn).toBe(0n);
    const b = run16("mov $256,%ax\nmov $-2,%cl\nidiv %cl");
    expect(b.state.gpr[RAX]! & 0xffn).toBe(0x80n);
  });

  it("66h makes it 32-bit: idiv %ecx divides EDX:EAX", () => {
    const e = run16("mov $512,%eax\nmov $-2,%ecx\ncltd\nidiv %ecx");
    expect(e.state.gpr[RAX]).toBe(BigInt.asUintN(32, -256n));
  });

  it.each([
    ["div %cx", 0n, 1n, 1n, "0x10000 / 1 needs 17 bits"],
    ["div %cx", 5n, 0n, 0n, "a zero divisor"],
    ["idiv %cx", 0x8000n, 0n, 1n, "+32768 does not fit a signed word"],
    ["idiv %cx", 0n, 0xffff8000n, 0xffffn, "-2^31 / -1 does not fit either"],
    ["idivb %cl", 0xff80n, 0n, 0xffn, "-128 / -1 = 128 does not fit a byte"],
  ].map(([i, ax, dx, cx, why]) => [i, why, ax, dx, cx] as [string, string, bigint, bigint, bigint]))("%s: #DE, registers unchanged (%s)", (insn, _why, ax, dx, cx) => {
    const r = fault16(insn, (x) => Object.assign(x.state.gpr, { [RAX]: ax, [RDX]: dx, [RCX]: cx }));
    expect(r.vector).toBe(0);
    expect(r.gpr).toEqual(r.before);
  });
});

describe("far pointer loads, XLAT, SALC, x87 control words (16-bit)", () => {
  it("lds/les/lss/lfs/lgs (%bx),%ax: the offset to the register, the selector to the segment", () => {
    for (const [insn, seg] of [["lds", "ds"], ["les", "es"], ["lss", "ss"], ["lfs", "fs"], ["lgs", "gs"]] as const) {
      const e = run16(`${insn} (%bx),%ax`, (x) => {
        x.state.gpr[RBX] = 0x2000n;
        x.load(0x2000n, Uint8Array.of(0x34, 0x12, 0x78, 0x56));
      });
      expect(e.state.gpr[RAX]! & 0xffffn, insn).toBe(0x1234n);
      expect(e.calls).toContainEqual(["loadSegment", seg, 0x5678]);
    }
    // 66h: a 32-bit offset and the selector after it (m16:32).
    const d = run16("lds (%bx),%eax", (x) => {
      x.state.gpr[RBX] = 0x2000n;
      x.load(0x2000n, Uint8Array.of(0x78, 0x56, 0x34, 0x12, 0xcd, 0xab));
    });
    expect(d.state.gpr[RAX]).toBe(0x12345678n);
    expect(d.calls).toContainEqual(["loadSegment", "ds", 0xabcd]);
  });

  it("xlat: AL from DS:[BX + AL]; salc: AL = CF ? 0xff : 0, nothing else", () => {
    const x = run16("xlat", (e) => {
      e.state.gpr[RAX] = 0x89abcdefn;
      e.state.gpr[RBX] = 0x3000n;
      e.load(0x3000n + 0xefn, Uint8Array.of(0xf0));
    });
    expect(x.state.gpr[RAX]).toBe(0x89abcdf0n);
    expect(run16("stc\n.byte 0xd6", (e) => (e.state.gpr[RAX] = 0x12345678n)).state.gpr[RAX]).toBe(0x123456ffn);
    expect(run16("clc\n.byte 0xd6", (e) => (e.state.gpr[RAX] = 0x12345678n)).state.gpr[RAX]).toBe(0x12345600n);
  });

  it("fninit sets FCW 0x37f and FSW 0; fnstcw/fnstsw store them; fldcw loads; CR0.TS makes them #NM", () => {
    const withFpu = (x: { state: object }, fpu = new X86FpuState()) => ((x.state as { fpu?: X86FpuState }).fpu = fpu);
    const e = run16("fldcw (%bp)\nfnstcw (%bx)\nfninit\nfnstsw (%si)\nfnstcw (%di)\nfnstsw %ax", (x) => {
      const fpu = new X86FpuState();
      fpu.fsw = 0x3800;
      withFpu(x, fpu);
      x.state.gpr[5] = 0x110n;
      x.load(0x110n, Uint8Array.of(0x40, 0x00));
      x.state.gpr[RBX] = 0x100n;
      x.state.gpr[6] = 0x102n;
      x.state.gpr[7] = 0x104n;
      x.state.gpr[RAX] = 0xffffn;
    });
    expect(e.readBytes(0x100n, 2)).toEqual([0x40, 0x00]); // what FLDCW loaded, before FNINIT
    expect(e.readBytes(0x102n, 2)).toEqual([0, 0]);
    expect(e.readBytes(0x104n, 2)).toEqual([0x7f, 0x03]);
    expect(e.state.gpr[RAX]).toBe(0n);
    const l = run16("fldcw (%bx)", (x) => {
      withFpu(x);
      x.state.gpr[RBX] = 0x100n;
      x.load(0x100n, Uint8Array.of(0x7f, 0x02));
    });
    expect((l.state as { fpu?: X86FpuState }).fpu?.fcw).toBe(0x27f);
    expect(fault16("fninit", (x) => (withFpu(x), (x.state.cr0 |= 8n))).vector).toBe(7);
  });
});
