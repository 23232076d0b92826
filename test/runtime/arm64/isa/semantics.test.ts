// Semantics read like the manual: flags, sign extension, write-back, and that a faulting access
// leaves the register file untouched and reports the syndrome facts KVM needs.

import { describe, it, expect } from "vitest";
import { FakeEnv, GuestFault, Undefined, envWith, run, CODE } from "./fake-env.js";
import { bitmaskValue, encodeBitmask } from "../../../../runtime/arm64/isa/alu.js";

const N = 8, Z = 4, C = 2, V = 1;
const M64 = (1n << 64n) - 1n;

describe("add/sub flags (AddWithCarry)", () => {
  const flags = (src: string, x1: bigint, x2: bigint) => run(src, (e) => { e.state.x[1] = x1; e.state.x[2] = x2; }).state;
  it("adds: signed overflow at INT64_MAX + 1", () => {
    const s = flags("adds x0, x1, x2", 0x7fffffffffffffffn, 1n);
    expect(s.x[0]).toBe(0x8000000000000000n);
    expect(s.nzcv).toBe(N | V);
  });
  it("adds: unsigned carry at UINT64_MAX + 1 gives zero", () => {
    const s = flags("adds x0, x1, x2", M64, 1n);
    expect(s.x[0]).toBe(0n);
    expect(s.nzcv).toBe(Z | C);
  });
  it("subs: 0 - 1 borrows (C clear) and is negative", () => {
    const s = flags("subs x0, x1, x2", 0n, 1n);
    expect(s.x[0]).toBe(M64);
    expect(s.nzcv).toBe(N);
  });
  it("cmp equal sets Z and C", () => {
    expect(flags("cmp x1, x2", 5n, 5n).nzcv).toBe(Z | C);
  });
  it("subs w: INT32_MIN - 1 overflows, result zero-extended", () => {
    const s = flags("subs w0, w1, w2", 0xffffffff80000000n, 1n);
    expect(s.x[0]).toBe(0x7fffffffn);
    expect(s.nzcv).toBe(C | V);
  });
  it("cmn w with an immediate: 0xffffffff + 1 sets Z and C", () => {
    expect(flags("cmn w1, #1", 0xffffffffn, 0n).nzcv).toBe(Z | C);
  });
  it("ands sets N and Z, clears C and V", () => {
    const s = run("ands x0, x1, #0x8000000000000000", (e) => { e.state.x[1] = M64; e.state.nzcv = C | V; }).state;
    expect(s.nzcv).toBe(N);
  });
  it("adc adds the carry", () => {
    const s = run("adc x0, x1, x2", (e) => { e.state.x[1] = 1n; e.state.x[2] = 2n; e.state.nzcv = C; }).state;
    expect(s.x[0]).toBe(4n);
  });
  it("add immediate reads and writes sp for register 31", () => {
    const s = run("add sp, sp, #0x10\nadd x2, sp, #1", (e) => { e.state.sp[1] = 0x1000n; }).state;
    expect(s.x[2]).toBe(0x1011n);
    expect(s.currentSp).toBe(0x1010n);
  });
});

describe("bitmask immediates (DecodeBitMasks)", () => {
  it("every valid N:immr:imms re-encodes to itself (64 and 32 bit)", () => {
    const distinct = { 64: new Set<bigint>(), 32: new Set<bigint>() };
    for (const width of [64, 32] as const) {
      for (let n = 0; n < (width === 64 ? 2 : 1); n++) {
        for (let immr = 0; immr < 64; immr++) {
          for (let imms = 0; imms < 64; imms++) {
            const v = bitmaskValue(n, immr, imms, width);
            if (v === undefined) continue;
            distinct[width].add(v);
            const e = encodeBitmask(v, width)!;
            expect(bitmaskValue(e.n, e.immr, e.imms, width)).toBe(v);
          }
        }
      }
    }
    // the well-known counts of distinct logical immediates: 5334 (64-bit) and 1302 (32-bit)
    expect(distinct[64].size).toBe(5334);
    expect(distinct[32].size).toBe(1302);
  });
  it("rejects 0, all ones and non-runs", () => {
    expect(encodeBitmask(0n, 64)).toBeUndefined();
    expect(encodeBitmask(M64, 64)).toBeUndefined();
    expect(encodeBitmask(0x1234n, 64)).toBeUndefined();
    expect(encodeBitmask(0xffffffffn, 32)).toBeUndefined();
  });
  it("and/orr/eor with immediates compute the value", () => {
    const s = run("mov x0, #0xff00\nand x1, x0, #0xf0f0f0f0f0f0f0f0\norr x2, xzr, #0x0003000300030003\neor w3, w0, #0x1", undefined).state;
    expect(s.x[1]).toBe(0xf000n);
    expect(s.x[2]).toBe(0x0003000300030003n);
    expect(s.x[3]).toBe(0xff01n);
  });
});

describe("data processing values", () => {
  it("move wide and bitfields", () => {
    const s = run([
      "mov x0, #0xffffffffffff1234", "movz x1, #0xbeef, lsl #16", "movk x1, #0xdead, lsl #32", "mov w2, #-1",
      "ubfx x3, x1, #16, #8", "sbfx x4, x1, #20, #4", "bfi x5, x1, #8, #16", "lsl x6, x1, #4", "asr x7, x0, #8", "lsr w8, w2, #28",
      "sxtb x9, w1", "uxth w10, w0", "sxtw x11, w2", "ror x12, x1, #16", "extr x13, x1, x0, #60",
    ].join("\n"), (e) => { e.state.x[5] = 0xffffffffffffffffn; }).state;
    expect(s.x[0]).toBe(0xffffffffffff1234n);
    expect(s.x[1]).toBe(0xdeadbeef0000n);
    expect(s.x[2]).toBe(0xffffffffn);
    expect(s.x[3]).toBe(0xefn);
    expect(s.x[4]).toBe(0xfffffffffffffffen); // bits 23:20 = 0xe, sign-extended
    expect(s.x[5]).toBe(0xffffffffffffffffn & ~0xffff00n | 0x000000n); // field 23:8 replaced by 0x0000
    expect(s.x[6]).toBe(0xdeadbeef00000n);
    expect(s.x[7]).toBe(0xffffffffffffff12n);
    expect(s.x[8]).toBe(0xfn);
    expect(s.x[9]).toBe(0n);
    expect(s.x[10]).toBe(0x1234n);
    expect(s.x[11]).toBe(M64);
    expect(s.x[12]).toBe(0x00000000deadbeefn);
    expect(s.x[13]).toBe(((0xdeadbeef0000n << 4n) | 0xfn) & M64);
  });
  it("multiply, divide, shifts by register, count and reverse", () => {
    const s = run([
      "mul x2, x0, x1", "udiv x3, x0, x1", "sdiv x4, x5, x1", "umulh x6, x5, x5", "smulh x7, x5, x5", "msub x8, x0, x1, x0",
      "lsl x9, x0, x1", "clz x10, x0", "rev w11, w0", "rbit x12, x1", "udiv x13, x0, xzr", "madd w14, w0, w1, w0",
    ].join("\n"), (e) => { e.state.x[0] = 100n; e.state.x[1] = 7n; e.state.x[5] = M64 - 99n; }).state; // x5 = -100
    expect(s.x[2]).toBe(700n);
    expect(s.x[3]).toBe(14n);
    expect(s.x[4]).toBe(M64 - 13n); // -100 / 7 = -14 (towards zero)
    expect(s.x[6]).toBe(M64 - 199n); // (2^64-100)^2 >> 64 = 2^64 - 200
    expect(s.x[7]).toBe(0n); // (-100)^2 >> 64
    expect(s.x[8]).toBe(100n - 700n & M64);
    expect(s.x[9]).toBe(12800n);
    expect(s.x[10]).toBe(57n);
    expect(s.x[11]).toBe(0x64000000n);
    expect(s.x[12]).toBe(0xe000000000000000n);
    expect(s.x[13]).toBe(0n);
    expect(s.x[14]).toBe(800n);
  });
  it("conditional select family", () => {
    const s = run("cmp x0, #1\ncset x1, eq\ncsetm x2, ne\ncinc x3, x0, eq\ncsel x4, x0, xzr, lt\ncneg x5, x0, ge", (e) => { e.state.x[0] = 1n; }).state;
    expect([s.x[1], s.x[2], s.x[3], s.x[4], s.x[5]]).toEqual([1n, 0n, 2n, 0n, M64]);
  });
  it("ccmp sets flags from the comparison or the immediate nzcv", () => {
    const s1 = run("cmp x0, #0\nccmp x1, #3, #0x2, eq", (e) => { e.state.x[1] = 3n; }).state;
    expect(s1.nzcv).toBe(Z | C);
    const s2 = run("cmp x0, #1\nccmp x1, #3, #0x2, eq").state;
    expect(s2.nzcv).toBe(C);
  });
  it("adr and adrp", () => {
    const s = run("adr x0, .\nadrp x1, . + 0x5000\nadr x2, . - 8").state;
    expect(s.x[0]).toBe(CODE);
    expect(s.x[1]).toBe((CODE & ~0xfffn) + 0x5000n);
    expect(s.x[2]).toBe(CODE + 8n - 8n);
  });
});

describe("branches", () => {
  it("bl links, ret returns, b.cond and cbz/tbz take or fall through", () => {
    const env = envWith([
      "bl f", // 0
      "b done", // 4
      "f: cmp x0, #0", // 8
      "b.ne 1f", // c (not taken)
      "cbz x0, 2f", // 10 (taken)
      "1: mov x9, #1",
      "2: tbnz x3, #40, 3f",
      "mov x9, #2",
      "3: ret",
      "done: nop",
    ].join("\n"));
    env.state.x[3] = 1n << 40n;
    const pcs: bigint[] = [];
    for (let i = 0; i < 7; i++) { pcs.push(env.state.pc - CODE); env.step(); }
    expect(pcs).toEqual([0n, 8n, 0xcn, 0x10n, 0x18n, 0x20n, 4n]);
    expect(env.state.x[30]).toBe(CODE + 4n);
    expect(env.state.x[9]).toBe(0n);
    expect(env.state.pc).toBe(CODE + 0x24n);
  });
  it("br/blr go to a register", () => {
    const s = run("blr x1", (e) => { e.state.x[1] = 0x1000n; }).state;
    expect(s.pc).toBe(0x1000n);
    expect(s.x[30]).toBe(CODE + 4n);
  });
});

describe("loads and stores", () => {
  const D = 0x80000n;
  it("sign-extends ldrsb/ldrsh/ldrsw and zero-extends ldrb/ldr w", () => {
    const s = run("ldrsb x0, [x1]\nldrsb w2, [x1]\nldrsh x3, [x1, #2]\nldrsw x4, [x1, #4]\nldrb w5, [x1]\nldr w6, [x1, #4]\nldursw x7, [x1, #4]", (e) => {
      e.state.x[1] = D;
      e.write(D, [0x80, 0, 0x00, 0x80, 0, 0, 0, 0x80]);
    }).state;
    expect(s.x[0]).toBe(0xffffffffffffff80n);
    expect(s.x[2]).toBe(0xffffff80n);
    expect(s.x[3]).toBe(0xffffffffffff8000n);
    expect(s.x[4]).toBe(0xffffffff80000000n);
    expect(s.x[5]).toBe(0x80n);
    expect(s.x[6]).toBe(0x80000000n);
    expect(s.x[7]).toBe(0xffffffff80000000n);
  });
  it("pre-index writes back before the access address, post-index after", () => {
    const env = run("ldr x0, [x1, #8]!\nldr x2, [x3], #16\nstp x4, x5, [sp, #-32]!\nstr w6, [x7, x8, lsl #2]", (e) => {
      e.state.x[1] = D;
      e.state.x[3] = D;
      e.write64(D, 0x1111n);
      e.write64(D + 8n, 0x2222n);
      e.state.sp[1] = D + 0x100n;
      e.state.x[4] = 0xaan;
      e.state.x[5] = 0xbbn;
      e.state.x[6] = 0x12345678n;
      e.state.x[7] = D + 0x200n;
      e.state.x[8] = 3n;
    });
    const s = env.state;
    expect([s.x[0], s.x[1]]).toEqual([0x2222n, D + 8n]);
    expect([s.x[2], s.x[3]]).toEqual([0x1111n, D + 16n]);
    expect(s.currentSp).toBe(D + 0x100n - 32n);
    expect(env.read64(D + 0xe0n)).toBe(0xaan);
    expect(env.read64(D + 0xe8n)).toBe(0xbbn);
    expect(env.read64(D + 0x20cn, 4)).toBe(0x12345678n);
  });
  it("ldp/ldpsw load both registers; ldr literal reads pc-relative", () => {
    const s = run("ldpsw x0, x1, [x2]\nldr x3, lit\nb .\nlit: .quad 0x1122334455667788", (e) => {
      e.state.x[2] = D;
      e.write(D, [0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]);
    }, 2).state;
    expect([s.x[0], s.x[1], s.x[3]]).toEqual([M64, 1n, 0x1122334455667788n]);
  });
  it("ldr x0, =const loads from the literal pool", () => {
    const s = run("ldr x0, =0x0900000000001234\nldr w1, =0x8000", undefined, 2).state;
    expect(s.x[0]).toBe(0x0900000000001234n);
    expect(s.x[1]).toBe(0x8000n);
  });

  describe("a faulting access leaves the registers unchanged", () => {
    const attempt = (src: string, setup: (e: FakeEnv) => void) => {
      const env = envWith(src);
      setup(env);
      const before = [...env.state.x, ...env.state.sp];
      expect(() => env.step()).toThrow(GuestFault);
      expect([...env.state.x, ...env.state.sp]).toEqual(before);
      return env;
    };
    it("ldr post-index", () => attempt("ldr x0, [x1], #8", (e) => { e.state.x[1] = D; e.faults.add(D); }));
    it("ldp pre-index faulting on the second register", () => attempt("ldp x0, x1, [x2, #16]!", (e) => { e.state.x[2] = D; e.faults.add(D + 24n); }));
    it("stp pre-index to the stack", () => attempt("stp x29, x30, [sp, #-32]!", (e) => { e.state.sp[1] = D; e.faults.add(D - 32n); }));
    it("ldrsw into its own base register", () => attempt("ldrsw x1, [x1]", (e) => { e.state.x[1] = D; e.faults.add(D); }));
  });

  describe("the access descriptor carries the syndrome facts", () => {
    const access = (src: string) => {
      const env = run(src, (e) => { e.state.x[1] = D; e.state.sp[1] = D; });
      return env.accesses.map((a) => a.a);
    };
    it("ldr w/x and str report ISV=1 with size, register, width", () => {
      expect(access("ldr w3, [x1, #4]")).toEqual([{ size: 4, write: false, rt: 3, signed: false, sf: false, acqrel: false, syndromeValid: true, mustAlign: false }]);
      expect(access("str x5, [x1]")).toEqual([{ size: 8, write: true, rt: 5, signed: false, sf: true, acqrel: false, syndromeValid: true, mustAlign: false }]);
      expect(access("strb w7, [x1, x2]")).toEqual([{ size: 1, write: true, rt: 7, signed: false, sf: false, acqrel: false, syndromeValid: true, mustAlign: false }]);
    });
    it("signed loads set SSE; ldrsb w is 32-bit", () => {
      expect(access("ldrsb w2, [x1]")[0]).toMatchObject({ size: 1, signed: true, sf: false, syndromeValid: true });
      expect(access("ldrsw x2, [x1]")[0]).toMatchObject({ size: 4, signed: true, sf: true, syndromeValid: true });
      expect(access("ldrsh x2, [x1]")[0]).toMatchObject({ size: 2, signed: true, sf: true });
    });
    it("ldp/stp report ISV=0 for each access", () => {
      const st = access("stp x29, x30, [sp, #-32]!");
      expect(st.map((a) => [a.rt, a.size, a.write, a.syndromeValid])).toEqual([[29, 8, true, false], [30, 8, true, false]]);
      expect(access("ldp w3, w4, [x1]").every((a) => !a.syndromeValid && a.size === 4)).toBe(true);
    });
    it("writeback forms and exclusives report ISV=0; ldar/stlr set AR", () => {
      expect(access("ldr x0, [x1], #8")[0]!.syndromeValid).toBe(false);
      expect(access("ldxr x0, [x1]")[0]!.syndromeValid).toBe(false);
      expect(access("ldar w0, [x1]")[0]).toMatchObject({ acqrel: true, syndromeValid: true, size: 4 });
      expect(access("stlr x0, [x1]")[0]).toMatchObject({ acqrel: true, write: true, sf: true });
    });
    // Arm ARM B2.5.2 / AArch64.CheckAlignment: exclusives and acquire/release must be aligned
    // whatever the memory type; plain loads, stores and pairs only on Device memory or with SCTLR.A.
    it("exclusives and ldar/stlr are must-align accesses; plain ones are not", () => {
      expect(access("ldxr x0, [x1]")[0]!.mustAlign).toBe(true);
      expect(access("ldaxr w0, [x1]")[0]!.mustAlign).toBe(true);
      expect(access("ldar w0, [x1]")[0]!.mustAlign).toBe(true);
      expect(access("stlrb w0, [x1]")[0]!.mustAlign).toBe(true);
      expect(access("ldr x0, [x1]")[0]!.mustAlign).toBe(false);
      expect(access("ldp x0, x2, [x1]").map((a) => a.mustAlign)).toEqual([false, false]);
    });
  });
  it("ldxr/stxr: the store succeeds once after the load", () => {
    const s = run("ldxr x0, [x1]\nstxr w2, x0, [x1]\nstxr w3, x0, [x1]", (e) => { e.state.x[1] = D; }).state;
    expect([s.x[2], s.x[3]]).toEqual([0n, 1n]);
  });
});

describe("system instructions reach the machine", () => {
  it("mrs/msr, pstate, barriers, cache and TLB maintenance, calls, eret, wfi", () => {
    const env = run([
      "mrs x0, s3_0_c1_c0_0", "msr s3_0_c2_c0_0, x1", "msr daifset, #0xf", "msr daifclr, #2", "msr spsel, #1",
      "isb", "dsb ish", "dmb sy", "dc civac, x2", "ic iallu", "tlbi vmalle1is", "at s1e1r, x3", "hvc #0x4", "smc #0", "svc #1", "eret", "wfi", "wfe", "nop",
    ].join("\n"), (e) => { e.state.x[1] = 0x4000n; e.state.x[2] = 0x8000n; });
    expect(env.state.x[0]).toBe(0x1234n);
    expect(env.calls).toEqual([
      ["readSysreg", { op0: 3, op1: 0, crn: 1, crm: 0, op2: 0 }, 0],
      ["writeSysreg", { op0: 3, op1: 0, crn: 2, crm: 0, op2: 0 }, 0x4000n, 1],
      ["writePstate", "daifset", 15], ["writePstate", "daifclr", 2], ["writePstate", "spsel", 1],
      ["barrier", "isb"], ["barrier", "dsb"], ["barrier", "dmb"],
      ["sys", { op0: 1, op1: 3, crn: 7, crm: 14, op2: 1 }, 0x8000n, 2],
      ["sys", { op0: 1, op1: 0, crn: 7, crm: 5, op2: 0 }, 0n, 31],
      ["sys", { op0: 1, op1: 0, crn: 8, crm: 3, op2: 0 }, 0n, 31],
      ["sys", { op0: 1, op1: 0, crn: 7, crm: 8, op2: 0 }, 0n, 3],
      ["call", "hvc", 4], ["call", "smc", 0], ["call", "svc", 1], ["eret"], ["wait", false], ["wait", true],
    ]);
  });
  it("an unallocated encoding raises the undefined-instruction exception", () => {
    const env = run(".word 0x00000000", undefined, 0);
    expect(() => env.step()).toThrow(Undefined);
    expect(env.calls).toEqual([["undefined"]]);
  });
});
