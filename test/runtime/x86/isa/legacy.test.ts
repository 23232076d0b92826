// SHLD/SHRD, PUSHA/POPA and the BCD adjustments (semantics/legacy.ts) on the fake machine, with
// values worked out from the SDM pseudocode of each (DAS rows are x86/realmode.c test_das cases).

import { describe, expect, it } from "vitest";
import { assembleX86 } from "../../../../runtime/x86/isa/index.js";
import { FakeEnv } from "./fake-env.js";

const CF = 1n, PF = 4n, AF = 0x10n, ZF = 0x40n, SF = 0x80n;
const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RBP = 5, RSI = 6, RDI = 7;

/** Run `count` instructions of `src` (or raw bytes) in 32-bit protected mode at 0x1000. */
function run(src: string | number[], setup: (env: FakeEnv) => void, count = 1): FakeEnv {
  const env = new FakeEnv("protected32");
  const bytes = typeof src === "string" ? assembleX86(src, { bits: 32, base: 0x1000n }).bytes : Uint8Array.from(src);
  env.load(0x1000n, bytes);
  env.state.rip = 0x1000n;
  setup(env);
  for (let i = 0; i < count; i++) env.step();
  return env;
}

describe("SHLD/SHRD", () => {
  it("shld $8,%edx,%eax shifts EDX's top byte into EAX (realmode.c test_shld)", () => {
    const env = run("shld $8,%edx,%eax", (e) => ((e.state.gpr[RAX] = 0xben), (e.state.gpr[RDX] = 0xef000000n)));
    expect(env.state.gpr[RAX]).toBe(0xbeefn);
  });
  it("shrd %cl,%ebx,%eax takes the low bits of EBX; CF is the last bit out of EAX", () => {
    const env = run("shrd %cl,%ebx,%eax", (e) => ((e.state.gpr[RAX] = 0x80000003n), (e.state.gpr[RBX] = 0x5n), (e.state.gpr[RCX] = 2n)));
    expect(env.state.gpr[RAX]).toBe(0x60000000n);
    expect(env.state.rflags & CF).toBe(CF);
  });
  it("a count of 0 changes nothing, flags included", () => {
    const env = run("shld %cl,%ebx,%eax", (e) => ((e.state.gpr[RAX] = 7n), (e.state.gpr[RCX] = 32n), (e.state.rflags = 2n | ZF)));
    expect(env.state.gpr[RAX]).toBe(7n);
    expect(env.state.rflags).toBe(2n | ZF);
  });
});

describe("PUSHA/POPA", () => {
  it("pushes the original ESP and POPA skips it", () => {
    const env = run([0x60, 0x31, 0xc0, 0x31, 0xdb, 0x61], (e) => {
      for (let r = 0; r < 8; r++) e.state.gpr[r] = BigInt(0x100 * (r + 1));
      e.state.gpr[RSP] = 0x8000n;
    }, 2);
    expect(env.state.gpr[RSP]).toBe(0x8000n - 32n);
    expect(env.read("ss", 0x8000n - 20n, { size: 4, write: false })).toBe(0x8000n); // the ESP slot
    env.step(); // xor %ebx,%ebx
    env.step(); // popa
    expect([RAX, RCX, RDX, RBX, RBP, RSI, RDI].map((r) => env.state.gpr[r])).toEqual([0x100n, 0x200n, 0x300n, 0x400n, 0x600n, 0x700n, 0x800n]);
    expect(env.state.gpr[RSP]).toBe(0x8000n);
  });
});

describe("BCD adjustments", () => {
  // realmode.c test_das: (flags out << 24) | (flags in << 16) | (AL out << 8) | AL in.
  it.each([0x46000000, 0x8701a000, 0x9710fa00, 0x56100006, 0x1200040a, 0x970099ff, 0x930198fe])("das case %i", (c) => {
    const env = run("das", (e) => ((e.state.gpr[RAX] = BigInt(c & 0xff)), (e.state.rflags = BigInt((c >>> 16) & 0xff) | 2n)));
    expect(env.state.gpr[RAX]).toBe(BigInt((c >>> 8) & 0xff));
    expect((env.state.rflags & 0xffn).toString(16)).toBe((c >>> 24).toString(16));
  });
  it("daa adjusts 0x9a + no flags to 0x00 with CF and AF", () => {
    const env = run("daa", (e) => ((e.state.gpr[RAX] = 0x9an), (e.state.rflags = 2n)));
    expect(env.state.gpr[RAX]).toBe(0n);
    expect(env.state.rflags & (CF | AF | ZF | PF)).toBe(CF | AF | ZF | PF);
  });
  it("aam and aad (realmode.c test_aam/test_aad)", () => {
    expect(run("aam $10", (e) => (e.state.gpr[RAX] = 0x76543210n)).state.gpr[RAX]).toBe(0x76540106n);
    expect(run("aad $10", (e) => (e.state.gpr[RAX] = 0x12345678n)).state.gpr[RAX]).toBe(0x123400d4n);
  });
  it("aam $0 raises #DE", () => {
    const env = new FakeEnv("protected32");
    env.load(0x1000n, Uint8Array.from([0xd4, 0x00]));
    env.state.rip = 0x1000n;
    expect(() => env.step()).toThrow();
  });
  it("aaa carries into AH", () => {
    const env = run("aaa", (e) => ((e.state.gpr[RAX] = 0x010bn), (e.state.rflags = 2n)));
    expect(env.state.gpr[RAX]).toBe(0x0201n);
    expect(env.state.rflags & (CF | AF | SF)).toBe(CF | AF);
  });
});
