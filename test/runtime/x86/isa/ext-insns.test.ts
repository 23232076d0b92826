// CMPXCHG8B/CMPXCHG16B, POPCNT, LZCNT and MOVBE (Intel SDM Vol. 2 pages of each), the instructions
// behind CPUID's CX8, CX16, POPCNT, ABM and MOVBE, against a fake machine: results and flags at the
// boundaries, the flags CMPXCHG8B keeps (QEMU 7.2 user mode cannot show them: x86-gen.ts), the
// encodings that are not these instructions (#UD), and LOCK.

import { describe, expect, it } from "vitest";
import { decodeX86 } from "../../../../runtime/x86/isa/index.js";
import { FakeEnv, GuestFault, runProgram } from "./fake-env.js";

const CF = 1n, PF = 4n, AF = 0x10n, ZF = 0x40n, SF = 0x80n, OF = 0x800n;
const ARITH = CF | PF | AF | ZF | SF | OF;
const RAX = 0, RCX = 1, RDX = 2, RBX = 3;
const BUF = 0x8000n;

const run = runProgram;
const q = (env: FakeEnv, at: bigint) => env.readBytes(at, 8).reduce((v, b, i) => v | (BigInt(b) << BigInt(8 * i)), 0n);
const putQ = (env: FakeEnv, at: bigint, v: bigint) => env.load(at, Uint8Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn)));
function vectorOf(f: () => unknown): number | null {
  try {
    f();
    return null;
  } catch (e) {
    if (e instanceof GuestFault) return e.vector;
    throw e;
  }
}

describe("CMPXCHG8B / CMPXCHG16B", () => {
  const setup = (mem: bigint, edxEax: [bigint, bigint], ecxEbx: [bigint, bigint], flags = 0n) => (e: FakeEnv) => {
    putQ(e, BUF, mem);
    e.state.gpr[RDX] = edxEax[0];
    e.state.gpr[RAX] = edxEax[1];
    e.state.gpr[RCX] = ecxEbx[0];
    e.state.gpr[RBX] = ecxEbx[1];
    e.state.gpr[7] = BUF;
    e.state.rflags = 2n | flags;
  };
  it("equal: ZF set, ECX:EBX stored, EDX:EAX kept; CF/PF/AF/SF/OF unchanged", () => {
    const env = run("cmpxchg8b (%rdi)", setup(0x11111111_22222222n, [0xffff_ffff_1111_1111n, 0x2222_2222n], [0x3333_3333n, 0x4444_4444n], CF | SF | OF | PF | AF));
    expect(q(env, BUF)).toBe(0x33333333_44444444n);
    expect(env.state.rflags & ARITH).toBe(CF | SF | OF | PF | AF | ZF);
    expect(env.state.gpr[RDX]).toBe(0xffff_ffff_1111_1111n); // not written: upper half kept
  });
  it("different: ZF clear, the old value in EDX:EAX (zero-extended in 64-bit mode), memory rewritten with itself", () => {
    const env = run("lock cmpxchg8b (%rdi)", setup(0x11111111_22222222n, [0xffff_ffff_0000_0000n, 0xffff_ffff_0000_0001n], [0n, 0n], ZF | CF));
    expect(env.state.rflags & ARITH).toBe(CF);
    expect([env.state.gpr[RDX], env.state.gpr[RAX]]).toEqual([0x1111_1111n, 0x2222_2222n]);
    expect(q(env, BUF)).toBe(0x11111111_22222222n);
    expect(env.calls.filter((c) => c[0] === "write")).toHaveLength(1); // the locked cycle always writes
  });
  it("32-bit code: the same on EDX:EAX / ECX:EBX; 66 does not make it a 4-byte compare", () => {
    const env = run("cmpxchg8b (%edi)", (e) => { setup(0x1_0000_0002n, [1n, 2n], [5n, 6n])(e); e.state.gpr[7] = BUF; }, 32);
    expect(q(env, BUF)).toBe(0x5_0000_0006n);
    const env66 = new FakeEnv("long64");
    env66.load(0x1000n, Uint8Array.from([0x66, 0x0f, 0xc7, 0x0f]));
    env66.state.rip = 0x1000n;
    setup(0x1_0000_0002n, [1n, 2n], [5n, 6n])(env66);
    env66.step();
    expect(q(env66, BUF)).toBe(0x5_0000_0006n);
  });
  it("CMPXCHG16B: RDX:RAX against 16 bytes, RCX:RBX stored; a misaligned operand is #GP", () => {
    const env = run("cmpxchg16b (%rdi)", (e) => {
      setup(0x2n, [1n, 2n], [0xaaaa_aaaa_aaaa_aaaan, 0xbbbb_bbbb_bbbb_bbbbn])(e);
      putQ(e, BUF + 8n, 1n);
    });
    expect([q(env, BUF), q(env, BUF + 8n)]).toEqual([0xbbbb_bbbb_bbbb_bbbbn, 0xaaaa_aaaa_aaaa_aaaan]);
    expect(env.state.rflags & ZF).toBe(ZF);
    const fail = run("cmpxchg16b (%rdi)", (e) => { setup(0x2n, [1n, 3n], [0n, 0n])(e); putQ(e, BUF + 8n, 0x8000_0000_0000_0001n); });
    expect([fail.state.gpr[RDX], fail.state.gpr[RAX]]).toEqual([0x8000_0000_0000_0001n, 2n]);
    expect(vectorOf(() => run("cmpxchg16b 8(%rdi)", setup(0n, [0n, 0n], [0n, 0n])))).toBe(13);
  });
  it("decoding: register operands (mod 3) are not CMPXCHG8B", () => {
    expect(decodeX86((i) => [0x0f, 0xc7, 0xc8][i] ?? 0, "long64").spec.sem).toBe("ud");
    expect(decodeX86((i) => [0x48, 0x0f, 0xc7, 0x08][i] ?? 0, "long64").spec.mnemonic).toBe("cmpxchg16b");
  });
});

describe("POPCNT and LZCNT", () => {
  it.each([
    ["popcnt %rbx,%rax", 0n, 0n, ZF],
    ["popcnt %rbx,%rax", 0xffff_ffff_ffff_ffffn, 64n, 0n],
    ["popcnt %ebx,%eax", 0x8000_0001n, 2n, 0n],
    ["popcnt %bx,%ax", 0x1_0101n, 0xffff_ffff_ffff_0002n, 0n], // 16-bit: the low word only, only AX written
    ["lzcnt %rbx,%rax", 0n, 64n, CF],
    ["lzcnt %rbx,%rax", 1n, 63n, 0n],
    ["lzcnt %ebx,%eax", 0x8000_0000n, 0n, ZF],
    ["lzcnt %bx,%ax", 0n, 0xffff_ffff_ffff_0010n, CF],
  ] as const)("%s with rbx=%s", (insn, src, out, f) => {
    const env = run(insn, (e) => {
      e.state.gpr[RBX] = src;
      e.state.gpr[RAX] = 0xffff_ffff_ffff_ffffn;
      e.state.rflags = 2n | ARITH;
    });
    expect(env.state.gpr[RAX]).toBe(out);
    if (insn.startsWith("popcnt")) expect(env.state.rflags & ARITH).toBe(f);
    else expect(env.state.rflags & (CF | ZF)).toBe(f);
  });
  it("without F3, 0F B8 is #UD (JMPE) and 0F BD stays BSR", () => {
    expect(decodeX86((i) => [0x0f, 0xb8, 0xc0][i] ?? 0, "long64").spec.sem).toBe("ud");
    expect(decodeX86((i) => [0x0f, 0xbd, 0xc0][i] ?? 0, "long64").spec.mnemonic).toBe("bsr");
    expect(decodeX86((i) => [0xf3, 0x0f, 0xbd, 0xc0][i] ?? 0, "long64").spec.mnemonic).toBe("lzcnt");
  });
});

describe("MOVBE", () => {
  it("loads and stores with the bytes reversed, 16/32/64-bit", () => {
    const env = run("movbe (%rdi),%rax\nmovbe (%rdi),%ecx\nmovbe (%rdi),%dx\nmovbe %rax,8(%rdi)", (e) => {
      putQ(e, BUF, 0x0102_0304_0506_0708n);
      e.state.gpr[7] = BUF;
      e.state.gpr[RDX] = 0xffff_ffff_ffff_ffffn;
    });
    expect(env.state.gpr[RAX]).toBe(0x0807_0605_0403_0201n);
    expect(env.state.gpr[RCX]).toBe(0x0807_0605n);
    expect(env.state.gpr[RDX]).toBe(0xffff_ffff_ffff_0807n);
    expect(q(env, BUF + 8n)).toBe(0x0102_0304_0506_0708n);
  });
  it("#UD with a register operand, with F3, with F2 (CRC32, not modelled), and with LOCK", () => {
    const ud = (bytes: number[]) => decodeX86((i) => bytes[i] ?? 0, "long64").spec.sem === "ud";
    expect(ud([0x0f, 0x38, 0xf0, 0xc0])).toBe(true);
    expect(ud([0xf3, 0x0f, 0x38, 0xf0, 0x00])).toBe(true);
    expect(ud([0xf2, 0x0f, 0x38, 0xf0, 0x00])).toBe(true);
    expect(ud([0x66, 0x0f, 0x38, 0xf0, 0x00])).toBe(false);
    const env = new FakeEnv("long64");
    env.load(0x1000n, Uint8Array.from([0xf0, 0x0f, 0x38, 0xf1, 0x07]));
    env.state.rip = 0x1000n;
    env.state.gpr[7] = BUF;
    expect(vectorOf(() => env.step())).toBe(6);
  });
});
