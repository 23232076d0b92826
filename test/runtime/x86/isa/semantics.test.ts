// Instruction semantics against a fake machine: RFLAGS at the boundaries (values worked out from
// the SDM definitions of CF/PF/AF/ZF/SF/OF), operand sizes, the stack, string instructions,
// faults that must leave registers unchanged, and the env calls system instructions make.

import { describe, expect, it } from "vitest";
import { assembleX86 } from "../../../../runtime/x86/isa/index.js";
import { FakeEnv, GuestFault, runProgram } from "./fake-env.js";

const CF = 1n, PF = 4n, AF = 0x10n, ZF = 0x40n, SF = 0x80n, OF = 0x800n, DF = 0x400n;
const ARITH = CF | PF | AF | ZF | SF | OF;
const RAX = 0, RCX = 1, RDX = 2, RBX = 3, RSP = 4, RSI = 6, RDI = 7;

/** Assemble `src` at 0x1000, run every instruction once, return the env. */
const run = runProgram;

function flags(env: FakeEnv): bigint {
  return env.state.rflags & ARITH;
}

describe("add/adc/sub/sbb/cmp flags at the boundaries", () => {
  const cases: [string, bigint, bigint, bigint, bigint, bigint?][] = [
    // insn, rax in, rbx in, rax out, flags out, CF in
    ["add %ebx,%eax", 0x7fffffffn, 1n, 0x80000000n, OF | SF | AF | PF],
    ["add %ebx,%eax", 0xffffffffn, 1n, 0n, CF | ZF | AF | PF],
    ["add %bl,%al", 0x0fn, 0x01n, 0x10n, AF],
    ["add %rbx,%rax", 0x8000000000000000n, 0x8000000000000000n, 0n, CF | OF | ZF | PF],
    ["add %bx,%ax", 0x7fffn, 0x7fffn, 0xfffen, OF | SF | AF],
    ["adc %bl,%al", 0xffn, 0n, 0n, CF | ZF | AF | PF, CF],
    ["adc %ebx,%eax", 0x7ffffffen, 1n, 0x80000000n, OF | SF | AF | PF, CF],
    ["sub %bl,%al", 0n, 1n, 0xffn, CF | SF | AF | PF],
    ["sub %bl,%al", 0x80n, 1n, 0x7fn, OF | AF],
    ["sub %ebx,%eax", 5n, 5n, 0n, ZF | PF],
    ["sbb %bl,%al", 0n, 0n, 0xffn, CF | SF | AF | PF, CF],
    ["sbb %rbx,%rax", 0n, 0xffffffffffffffffn, 0n, CF | ZF | AF | PF, CF],
    ["cmp %ebx,%eax", 1n, 2n, 1n, CF | SF | AF | PF],
    ["and %ebx,%eax", 0xf0n, 0x0fn, 0n, ZF | PF],
    ["or %bl,%al", 0x80n, 0x01n, 0x81n, SF | PF],
    ["xor %rax,%rax", 0x1234n, 0n, 0n, ZF | PF],
  ];
  it.each(cases)("%s with rax=%#x rbx=%#x", (insn, a, b, out, f, cfIn) => {
    const env = run(insn, (e) => {
      e.state.gpr[RAX] = a;
      e.state.gpr[RBX] = b;
      e.state.rflags = 2n | (cfIn ?? 0n) | OF; // OF set going in: must be recomputed
    });
    expect(env.state.gpr[RAX]).toBe(out);
    expect(flags(env).toString(16)).toBe(f.toString(16));
  });

  it("inc and dec keep CF; inc 0x7f overflows", () => {
    const env = run("inc %al", (e) => ((e.state.gpr[RAX] = 0x7fn), (e.state.rflags = 2n | CF)));
    expect(env.state.gpr[RAX]).toBe(0x80n);
    expect(flags(env)).toBe(CF | OF | SF | AF);
    const d = run("dec %ecx", (e) => (e.state.gpr[RCX] = 1n));
    expect(flags(d)).toBe(ZF | PF);
  });

  it("neg sets CF unless the operand is 0; neg of the most negative value overflows", () => {
    expect(flags(run("neg %eax"))).toBe(ZF | PF);
    const env = run("neg %al", (e) => (e.state.gpr[RAX] = 0x80n));
    expect(env.state.gpr[RAX]).toBe(0x80n);
    expect(flags(env)).toBe(CF | OF | SF);
    const one = run("neg %rax", (e) => (e.state.gpr[RAX] = 1n));
    expect(one.state.gpr[RAX]).toBe(0xffffffffffffffffn);
    expect(flags(one)).toBe(CF | SF | AF | PF);
  });

  it("memory destination: add to memory writes memory, cmp does not", () => {
    const env = run("addl $1,(%rbx)\ncmpl $5,(%rbx)", (e) => {
      e.state.gpr[RBX] = 0x2000n;
      e.load(0x2000n, Uint8Array.from([4, 0, 0, 0]));
    });
    expect(env.readBytes(0x2000n, 4)).toEqual([5, 0, 0, 0]);
    expect(flags(env)).toBe(ZF | PF);
  });
});

describe("jcc/setcc conditions agree with signed and unsigned comparison", () => {
  const pairs: [number, number][] = [[1, 2], [2, 1], [5, 5], [-1, 1], [1, -1], [0x7fffffff, -1], [-0x80000000, 1], [0, 0]];
  const names = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"];
  it.each(pairs)("cmp %i, %i", (a, b) => {
    const src = names.map((n, i) => `set${n} ${["%al", "%bl", "%cl", "%dl", "%sil", "%dil", "%r8b", "%r9b", "%r10b", "%r11b", "%r12b", "%r13b", "%r14b", "%r15b", "%bpl", "%spl"][i]}`);
    const env = new FakeEnv("long64");
    const p = assembleX86(["cmp %r15d,%r14d", ...src].join("\n"), { base: 0x1000n });
    env.load(0x1000n, p.bytes);
    env.state.rip = 0x1000n;
    env.state.gpr[14] = BigInt(a >>> 0);
    env.state.gpr[15] = BigInt(b >>> 0);
    env.step();
    for (let i = 0; i < 16; i++) env.step();
    const regs = [0, 3, 1, 2, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 5, 4];
    const got = regs.map((r) => Number(env.state.gpr[r]! & 0xffn));
    const ua = a >>> 0, ub = b >>> 0;
    const diff = (ua - ub) >>> 0;
    const exact = a - b;
    const of = exact > 0x7fffffff || exact < -0x80000000;
    const sf = (diff & 0x80000000) !== 0;
    let bitsSet = 0;
    for (let x = diff & 0xff; x; x >>= 1) bitsSet += x & 1;
    const pf = bitsSet % 2 === 0;
    const want = [of, !of, ua < ub, ua >= ub, a === b, a !== b, ua <= ub, ua > ub, sf, !sf, pf, !pf, a < b, a >= b, a <= b, a > b];
    expect(got).toEqual(want.map((w) => (w ? 1 : 0)));
  });
});

describe("shifts and rotates", () => {
  const cases: [string, bigint, bigint, bigint, bigint?][] = [
    ["shl $1,%al", 0x80n, 0n, CF | OF | ZF | PF],
    ["shl $1,%al", 0x40n, 0x80n, OF | SF],
    ["shl $4,%eax", 0x1000000fn, 0xf0n, CF | PF],
    ["shr $1,%al", 0x81n, 0x40n, CF | OF],
    ["shr $2,%eax", 0x6n, 0x1n, CF],
    ["sar $1,%al", 0x81n, 0xc0n, CF | SF | PF],
    ["sar $63,%rax", 0x8000000000000000n, 0xffffffffffffffffn, SF | PF],
    ["rol $1,%al", 0x80n, 0x01n, CF | OF],
    ["ror $1,%al", 0x01n, 0x80n, CF | OF],
    ["rol $8,%al", 0x81n, 0x81n, CF],
    ["rcl $1,%al", 0x80n, 0x01n, CF | OF, CF],
    ["rcr $1,%al", 0x01n, 0x00n, CF],
    ["rcr $1,%al", 0x00n, 0x80n, OF, CF],
    ["rcl $9,%al", 0x55n, 0x55n, 0n],
  ];
  it.each(cases)("%s on %#x", (insn, a, out, f, cfIn) => {
    const env = run(insn, (e) => ((e.state.gpr[RAX] = a), (e.state.rflags = 2n | (cfIn ?? 0n))));
    expect(env.state.gpr[RAX]).toBe(out);
    // OF is defined only for 1-bit shifts and rotates (SDM SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR).
    const ofMask = insn.includes("$1,") ? OF : 0n;
    const mask = insn.startsWith("r") ? CF | ofMask : CF | ofMask | ZF | SF | PF;
    expect((env.state.rflags & mask).toString(16)).toBe(f.toString(16));
  });

  it("a zero count (after masking) changes no flags and no value, but still writes a 32-bit register", () => {
    // SDM Vol. 2 SAL/SAR/SHL/SHR: "If the count is 0, the flags are not affected"; the 32-bit
    // destination is written all the same, which zero-extends it (SDM Vol. 1 3.4.1.1), as a
    // real CPU and qemu-x86_64 do (found by test/runtime/x86/diff: `shll %cl,%eax` with cl = 32).
    for (const insn of ["shl %cl,%eax", "shr %cl,%eax", "sar %cl,%eax", "rol %cl,%eax", "ror %cl,%eax"]) {
      const env = run(insn, (e) => {
        e.state.gpr[RAX] = 0xffffffff_00000001n;
        e.state.gpr[RCX] = 32n; // masked to 0 for 32-bit operands
        e.state.rflags = 2n | CF | ZF;
      });
      expect(env.state.gpr[RAX], insn).toBe(1n);
      expect(flags(env), insn).toBe(CF | ZF);
    }
    const env = run("shl %cl,%rax", (e) => ((e.state.gpr[RAX] = 0xffffffff_00000001n), (e.state.gpr[RCX] = 64n), (e.state.rflags = 2n | CF)));
    expect(env.state.gpr[RAX]).toBe(0xffffffff_00000001n);
    expect(flags(env)).toBe(CF);
  });

  it("shifting by %cl uses the low 6 bits for 64-bit operands", () => {
    const env = run("shl %cl,%rax", (e) => ((e.state.gpr[RAX] = 1n), (e.state.gpr[RCX] = 0x43n)));
    expect(env.state.gpr[RAX]).toBe(8n);
  });
});

describe("mul, imul, div, idiv", () => {
  it("mul: rdx:rax = rax * src, CF=OF when the high half is not zero", () => {
    const env = run("mul %rbx", (e) => ((e.state.gpr[RAX] = 0xffffffffffffffffn), (e.state.gpr[RBX] = 2n)));
    expect(env.state.gpr[RAX]).toBe(0xfffffffffffffffen);
    expect(env.state.gpr[RDX]).toBe(1n);
    expect(env.state.rflags & (CF | OF)).toBe(CF | OF);
    const b = run("mul %bl", (e) => ((e.state.gpr[RAX] = 0x10n), (e.state.gpr[RBX] = 0x10n)));
    expect(b.state.gpr[RAX]).toBe(0x100n);
    expect(b.state.rflags & (CF | OF)).toBe(CF | OF);
    const small = run("mul %ecx", (e) => ((e.state.gpr[RAX] = 3n), (e.state.gpr[RCX] = 4n), (e.state.gpr[RDX] = 99n)));
    expect([small.state.gpr[RAX], small.state.gpr[RDX], small.state.rflags & (CF | OF)]).toEqual([12n, 0n, 0n]);
  });

  it("imul in its one-, two- and three-operand forms", () => {
    const one = run("imul %bl", (e) => ((e.state.gpr[RAX] = 0xffn), (e.state.gpr[RBX] = 2n)));
    expect(one.state.gpr[RAX]).toBe(0xfffen); // -1 * 2 = -2 in AX
    expect(one.state.rflags & (CF | OF)).toBe(0n);
    const two = run("imul %ebx,%eax", (e) => ((e.state.gpr[RAX] = 0x40000000n), (e.state.gpr[RBX] = 2n)));
    expect(two.state.gpr[RAX]).toBe(0x80000000n);
    expect(two.state.rflags & (CF | OF)).toBe(CF | OF);
    const three = run("imul $-3,%rbx,%rcx", (e) => (e.state.gpr[RBX] = 5n));
    expect(three.state.gpr[RCX]).toBe(BigInt.asUintN(64, -15n));
    expect(three.state.rflags & (CF | OF)).toBe(0n);
  });

  it("div and idiv: quotient and remainder, truncating toward zero", () => {
    const d = run("div %rbx", (e) => ((e.state.gpr[RDX] = 1n), (e.state.gpr[RAX] = 0n), (e.state.gpr[RBX] = 3n)));
    expect(d.state.gpr[RAX]).toBe((1n << 64n) / 3n);
    expect(d.state.gpr[RDX]).toBe((1n << 64n) % 3n);
    const i = run("cltd\nidiv %ecx", (e) => ((e.state.gpr[RAX] = BigInt.asUintN(32, -7n)), (e.state.gpr[RCX] = 2n)));
    expect(i.state.gpr[RAX]).toBe(BigInt.asUintN(32, -3n));
    expect(i.state.gpr[RDX]).toBe(BigInt.asUintN(32, -1n));
    const b = run("divb %cl", (e) => ((e.state.gpr[RAX] = 0x0107n), (e.state.gpr[RCX] = 0x10n)));
    expect(b.state.gpr[RAX]).toBe(0x0710n); // AH = 263 % 16 = 7, AL = 263 / 16 = 16
  });

  it.each([
    ["div %rbx", 5n, 0n, 0n],
    ["div %rbx", 0n, 1n, 1n], // quotient 2^64 does not fit
    ["idivb %bl", 0xff80n, 0n, 0xffn], // -128 / -1 = 128 does not fit a byte
    ["idiv %ecx", 1n, 0n, 0n],
  ])("%s raises #DE and changes nothing (rax=%#x rdx=%#x)", (insn, rax, rdx, src) => {
    const env = new FakeEnv();
    const p = assembleX86(insn, { base: 0x1000n });
    env.load(0x1000n, p.bytes);
    env.state.rip = 0x1000n;
    Object.assign(env.state.gpr, { [RAX]: rax, [RDX]: rdx, [RBX]: src, [RCX]: src });
    const before = [...env.state.gpr];
    expect(() => env.step()).toThrow(GuestFault);
    try {
      env.state.rip = 0x1000n;
      env.step();
    } catch (e) {
      expect((e as GuestFault).vector).toBe(0);
    }
    expect(env.state.gpr).toEqual(before);
  });
});

describe("operand sizes", () => {
  it("32-bit writes zero-extend to 64 bits in long mode; 8/16-bit writes merge", () => {
    const env = run("mov $1,%eax\nmov $2,%bx\nmov $3,%ch\nmov $4,%sil\nadd $0,%r8d\nxchg %edx,%edx", (e) => {
      for (const r of [RAX, RBX, RCX, RSI, 8, RDX]) e.state.gpr[r] = 0xffffffffffffffffn;
    });
    expect(env.state.gpr[RAX]).toBe(1n);
    expect(env.state.gpr[RBX]).toBe(0xffffffffffff0002n);
    expect(env.state.gpr[RCX]).toBe(0xffffffffffff03ffn);
    expect(env.state.gpr[RSI]).toBe(0xffffffffffffff04n);
    expect(env.state.gpr[8]).toBe(0xffffffffn);
    expect(env.state.gpr[RDX]).toBe(0xffffffffn);
  });

  it("cmov with a false condition still zero-extends its 32-bit destination", () => {
    const env = run("cmovne %ebx,%eax", (e) => ((e.state.gpr[RAX] = 0x1_0000_0005n), (e.state.rflags = 2n | ZF)));
    expect(env.state.gpr[RAX]).toBe(5n);
  });

  it("movzx, movsx, movslq, cbw/cwde/cdqe, cwd/cdq/cqo", () => {
    const env = run("movzbl %bl,%eax\nmovsbq %bl,%rcx\nmovslq %ebx,%rdx\nmovswl %bx,%esi", (e) => (e.state.gpr[RBX] = 0x8000_0080n));
    expect([env.state.gpr[RAX], env.state.gpr[RCX], env.state.gpr[RDX], env.state.gpr[RSI]]).toEqual([
      0x80n, 0xffffffffffffff80n, 0xffffffff80000080n, 0x80n,
    ]);
    const c = run("cltq\ncqto", (e) => (e.state.gpr[RAX] = 0x80000000n));
    expect(c.state.gpr[RAX]).toBe(0xffffffff80000000n);
    expect(c.state.gpr[RDX]).toBe(0xffffffffffffffffn);
    const w = run("cbtw", (e) => (e.state.gpr[RAX] = 0x1234_0080n));
    expect(w.state.gpr[RAX]).toBe(0x1234_ff80n);
  });

  it("lea computes base + index*scale + disp wrapped to the operand size; RIP-relative uses the next rip", () => {
    const env = run("lea -8(%rbx,%rcx,4),%rax\nlea 0x10(%rip),%rdx\nlea (%rbx,%rcx,8),%esi", (e) => {
      e.state.gpr[RBX] = 0xffffffff_00000000n;
      e.state.gpr[RCX] = 3n;
    });
    expect(env.state.gpr[RAX]).toBe(0xffffffff_00000004n);
    expect(env.state.gpr[RDX]).toBe(0x1000n + 5n + 7n + 0x10n);
    expect(env.state.gpr[RSI]).toBe(24n);
  });
});

describe("stack and control transfer", () => {
  it("push/pop move rsp by 8 in long mode and 4 in 32-bit code", () => {
    const env = run("push %rbx\npush $-2\npop %rcx\npop %rdx", (e) => ((e.state.gpr[RSP] = 0x8000n), (e.state.gpr[RBX] = 0x1122334455667788n)));
    expect(env.state.gpr[RSP]).toBe(0x8000n);
    expect(env.state.gpr[RCX]).toBe(0xfffffffffffffffen);
    expect(env.state.gpr[RDX]).toBe(0x1122334455667788n);
    expect(env.readBytes(0x7ff8n, 8)).toEqual([0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
    const e32 = run("push %ebx\npushw $0x1234", (e) => ((e.state.gpr[RSP] = 0x8000n), (e.state.gpr[RBX] = 0xaabbccddn)), 32);
    expect(e32.state.gpr[RSP]).toBe(0x8000n - 6n);
    expect(e32.readBytes(0x7ffan, 6)).toEqual([0x34, 0x12, 0xdd, 0xcc, 0xbb, 0xaa]);
  });

  it("call pushes the return address and ret pops it (ret imm16 also releases arguments)", () => {
    const env = new FakeEnv();
    const p = assembleX86("call f\nhlt\nf: mov %rsp,%rax\nret $16", { base: 0x1000n });
    env.load(0x1000n, p.bytes);
    env.state.rip = 0x1000n;
    env.state.gpr[RSP] = 0x8000n;
    env.run(10);
    expect(env.state.gpr[RAX]).toBe(0x7ff8n);
    expect(env.readBytes(0x7ff8n, 8)).toEqual([5, 0x10, 0, 0, 0, 0, 0, 0]);
    expect(env.state.gpr[RSP]).toBe(0x8010n);
    expect(env.state.rip).toBe(0x1006n);
  });

  it("loop counts rcx down; jrcxz tests it; indirect jmp/call read the target", () => {
    const env = new FakeEnv();
    const p = assembleX86("mov $3,%ecx\n1: inc %eax\nloop 1b\njrcxz 2f\nud2\n2: lea 3f(%rip),%rbx\njmp *%rbx\nud2\n3: hlt", { base: 0x1000n });
    env.load(0x1000n, p.bytes);
    env.state.rip = 0x1000n;
    env.run(100);
    expect(env.halted).toBe(true);
    expect(env.state.gpr[RAX]).toBe(3n);
  });

  it("iretq pops rip, cs, rflags, rsp and ss", () => {
    const env = run("iretq", (e) => {
      e.state.gpr[RSP] = 0x7000n;
      const frame = [0x4000n, 0x8n, 0x202n, 0x9000n, 0x10n];
      frame.forEach((v, i) => e.write("ss", 0x7000n + BigInt(i * 8), v, { size: 8, write: true }));
    });
    expect(env.state.rip).toBe(0x4000n);
    expect(env.state.rflags).toBe(0x202n);
    expect(env.state.gpr[RSP]).toBe(0x9000n);
    expect(env.calls.filter((c) => c[0] === "loadSegment")).toEqual([["loadSegment", "cs", 8], ["loadSegment", "ss", 0x10]]);
  });

  it("far jump through memory (m16:32) loads CS and rip", () => {
    const env = run("ljmp *(%rbx)", (e) => {
      e.state.gpr[RBX] = 0x3000n;
      e.load(0x3000n, Uint8Array.from([0x00, 0x01, 0x40, 0x00, 0x08, 0x00]));
    });
    expect(env.state.rip).toBe(0x400100n);
    expect(env.calls).toContainEqual(["loadSegment", "cs", 8]);
  });
});

describe("string instructions", () => {
  it("rep stosq stores rcx quadwords and leaves rcx = 0, rdi past the end", () => {
    const env = run("rep stosq", (e) => {
      e.state.gpr[RCX] = 4n;
      e.state.gpr[RDI] = 0x3000n;
      e.state.gpr[RAX] = 0x0102030405060708n;
    });
    expect(env.state.gpr[RCX]).toBe(0n);
    expect(env.state.gpr[RDI]).toBe(0x3020n);
    expect(env.readBytes(0x3018n, 8)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it("std makes rep movsb copy downwards", () => {
    const env = run("std\nrep movsb", (e) => {
      e.state.gpr[RCX] = 3n;
      e.state.gpr[RSI] = 0x2002n;
      e.state.gpr[RDI] = 0x3002n;
      e.load(0x2000n, Uint8Array.from([1, 2, 3]));
    });
    expect(env.readBytes(0x3000n, 3)).toEqual([1, 2, 3]);
    expect(env.state.gpr[RSI]).toBe(0x1fffn);
    expect(env.state.rflags & DF).toBe(DF);
  });

  it("repne scasb stops at the match", () => {
    const env = run("repne scasb", (e) => {
      e.state.gpr[RCX] = 10n;
      e.state.gpr[RDI] = 0x2000n;
      e.state.gpr[RAX] = 0x33n;
      e.load(0x2000n, Uint8Array.from([0x11, 0x22, 0x33, 0x44]));
    });
    expect(env.state.gpr[RDI]).toBe(0x2003n);
    expect(env.state.gpr[RCX]).toBe(7n);
    expect(env.state.rflags & ZF).toBe(ZF);
  });

  it("rep with rcx = 0 does nothing", () => {
    const env = run("rep stosb", (e) => ((e.state.gpr[RDI] = 0x3000n), (e.state.gpr[RAX] = 0x55n)));
    expect(env.calls.filter((c) => c[0] === "write")).toEqual([]);
  });
});

describe("a faulting memory access changes no register", () => {
  const cases: [string, (e: FakeEnv) => void][] = [
    ["add (%rbx),%eax", (e) => e.faulting.add(0x5000n)],
    ["add %eax,(%rbx)", (e) => e.faulting.add(0x5000n)],
    ["pop %rax", (e) => e.faulting.add(0x7000n)],
    ["push %rax", (e) => e.faulting.add(0x6ff8n)],
    ["call *(%rbx)", (e) => e.faulting.add(0x5000n)],
    ["xchg %eax,(%rbx)", (e) => e.faulting.add(0x5000n)],
    ["ret", (e) => e.faulting.add(0x7000n)],
    ["lgdt (%rbx)", (e) => e.faulting.add(0x5008n)],
  ];
  it.each(cases)("%s", (insn, setup) => {
    const env = new FakeEnv();
    const p = assembleX86(insn, { base: 0x1000n });
    env.load(0x1000n, p.bytes);
    env.state.rip = 0x1000n;
    env.state.gpr[RAX] = 0x1234n;
    env.state.gpr[RBX] = 0x5000n;
    env.state.gpr[RSP] = 0x7000n;
    setup(env);
    const gpr = [...env.state.gpr];
    const rflags = env.state.rflags;
    expect(() => env.step()).toThrow(GuestFault);
    expect(env.state.gpr).toEqual(gpr);
    expect(env.state.rflags).toBe(rflags);
    expect(env.state.rip).toBe(0x1000n);
    expect(env.calls.filter((c) => c[0] === "loadDescriptorTable")).toEqual([]);
  });

  it("rep stos faulting mid-way keeps the completed iterations in rcx/rdi", () => {
    const env = new FakeEnv();
    const p = assembleX86("rep stosl", { base: 0x1000n });
    env.load(0x1000n, p.bytes);
    env.state.rip = 0x1000n;
    env.state.gpr[RCX] = 5n;
    env.state.gpr[RDI] = 0x3000n;
    env.faulting.add(0x3008n);
    expect(() => env.step()).toThrow(GuestFault);
    expect(env.state.gpr[RCX]).toBe(3n);
    expect(env.state.gpr[RDI]).toBe(0x3008n);
  });
});

describe("system instructions reach the machine through X86Env", () => {
  it("mov %eax,%cr4 calls writeCr(4, value, 0); mov %cr0,%ebx calls readCr(0, 3)", () => {
    const env = run("mov %eax,%cr4\nmov %cr0,%ebx", (e) => (e.state.gpr[RAX] = 0x20n), 32);
    expect(env.calls).toEqual([["writeCr", 4, 0x20n, 0], ["readCr", 0, 3]]);
    expect(env.state.gpr[RBX]).toBe(0x11n);
  });

  it("64-bit forms name the register: mov %r9,%cr3 → gpr 9; mov %cr8,%rax", () => {
    const env = run("mov %r9,%cr3\nmov %cr3,%r10\nmov %rbx,%cr8", (e) => ((e.state.gpr[9] = 0x1000n), (e.state.gpr[RBX] = 2n)));
    expect(env.calls).toEqual([["writeCr", 3, 0x1000n, 9], ["readCr", 3, 10], ["writeCr", 8, 2n, 3]]);
    expect(env.state.gpr[10]).toBe(0x1000n);
  });

  it("rdmsr/wrmsr use ECX and EDX:EAX", () => {
    const env = run("mov $0xc0000080,%ecx\nrdmsr\nor $0x100,%eax\nwrmsr", (e) => (e.state.efer = 0x1_0000_0001n));
    expect(env.calls).toEqual([["rdmsr", 0xc0000080], ["wrmsr", 0xc0000080, 0x1_0000_0101n]]);
    expect(env.state.gpr[RDX]).toBe(1n);
  });

  it("in/out with imm8 and dx ports", () => {
    const env = run("in $0x60,%al\nmov $0x3f8,%dx\nout %al,(%dx)\nin (%dx),%eax\noutw %ax,$0x80", (e) => (e.state.gpr[RAX] = 0xffffffff_ffffffffn));
    expect(env.calls).toEqual([["in", 0x60, 1], ["out", 0x3f8, 1, 0x5a], ["in", 0x3f8, 4], ["out", 0x80, 2, 0x5a5a]]);
    expect(env.state.gpr[RAX]).toBe(0x5a5a5a5an);
  });

  it("cpuid, rdtsc, hlt, invlpg, wbinvd, lidt/sgdt, mov to a segment register", () => {
    const env = run("invlpg 0x10(%rbx)\nwbinvd\nlidt (%rbx)\nsgdt 0x20(%rbx)\nmov %ecx,%ds\ncpuid\nrdtsc\nhlt", (e) => {
      e.state.gpr[RAX] = 0xffffffff_00000000n;
      e.state.gpr[RCX] = 0x10n;
      e.state.gpr[RBX] = 0x2000n;
      e.state.gdtr = { base: 0xfedcba9876543210n, limit: 0x27 };
      // A canonical 64-bit base (a non-canonical one is #GP(0): test/runtime/x86/canonical.test.ts).
      e.load(0x2000n, Uint8Array.from([0xff, 0x0f, 1, 2, 3, 4, 5, 6, 0, 0]));
    });
    expect(env.calls.filter((c) => c[0] !== "read" && c[0] !== "write")).toEqual([
      ["invlpg", 0x2010n], ["wbinvd"], ["loadDescriptorTable", "idt", 0x0000060504030201n, 0xfff],
      ["loadSegment", "ds", 0x10], ["cpuid", 0, 0x10], ["hlt"],
    ]);
    expect(env.state.gpr[RDX]).toBe(1n); // rdtsc high half (cpuid's edx overwritten)
    expect(env.state.gpr[RBX]).toBe(0x756e6547n); // cpuid's ebx, zero-extended
    expect(env.readBytes(0x2020n, 10)).toEqual([0x27, 0, 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe]);
  });

  it.each([
    ["ud2", 6],
    ["int3", 3],
    ["int $0x80", 0x80],
    ["mov %eax,%cs", 6],
  ])("%s raises vector %i", (insn, vector) => {
    const env = new FakeEnv();
    const p = assembleX86(insn, { base: 0x1000n });
    env.load(0x1000n, p.bytes);
    env.state.rip = 0x1000n;
    let got = -1;
    try {
      env.step();
    } catch (e) {
      got = (e as GuestFault).vector;
    }
    expect(got).toBe(vector);
  });

  it("privileged instructions at CPL 3 raise #GP(0)", () => {
    const env = new FakeEnv();
    const p = assembleX86("mov %rax,%cr3", { base: 0x1000n });
    env.load(0x1000n, p.bytes);
    env.state.rip = 0x1000n;
    env.state.seg.cs.selector = 0x2b;
    expect(() => env.step()).toThrow(expect.objectContaining({ vector: 13, errorCode: 0 }));
    expect(env.calls).toEqual([]);
  });

  it("undefined opcodes raise #UD", () => {
    const env = new FakeEnv();
    env.load(0x1000n, Uint8Array.from([0x0f, 0xff, 0x00]));
    env.state.rip = 0x1000n;
    expect(() => env.step()).toThrow(expect.objectContaining({ vector: 6 }));
  });
});

describe("bit instructions, exchanges and flag transfers", () => {
  it("bt with a register offset addresses memory beyond the operand (negative offsets go below)", () => {
    const env = run("btsl %ecx,(%rbx)\nbtl %edx,(%rbx)", (e) => {
      e.state.gpr[RBX] = 0x2010n;
      e.state.gpr[RCX] = 35n; // dword +1, bit 3
      e.state.gpr[RDX] = BigInt.asUintN(64, -1n); // dword -1, bit 31
      e.load(0x200cn, Uint8Array.from([0, 0, 0, 0x80]));
    });
    expect(env.readBytes(0x2014n, 1)).toEqual([8]);
    expect(env.state.rflags & CF).toBe(CF);
  });

  it("bsf/bsr find the lowest/highest set bit; a zero source sets ZF and keeps the destination", () => {
    const env = run("bsf %ebx,%eax\nbsr %rbx,%rcx\nbsf %rdx,%rsi", (e) => {
      e.state.gpr[RBX] = 0x00f0_0100n;
      e.state.gpr[RSI] = 77n;
    });
    expect([env.state.gpr[RAX], env.state.gpr[RCX], env.state.gpr[RSI]]).toEqual([8n, 23n, 77n]);
    expect(env.state.rflags & ZF).toBe(ZF);
  });

  it("cmpxchg stores on a match and loads the accumulator otherwise; xadd exchanges and adds", () => {
    const env = run("cmpxchg %ecx,(%rbx)\ncmpxchg %ecx,(%rbx)\nxadd %edx,(%rbx)", (e) => {
      e.state.gpr[RAX] = 5n;
      e.state.gpr[RBX] = 0x2000n;
      e.state.gpr[RCX] = 9n;
      e.state.gpr[RDX] = 1n;
      e.load(0x2000n, Uint8Array.from([5, 0, 0, 0]));
    });
    expect(env.state.gpr[RAX]).toBe(9n); // second cmpxchg saw 9 != 5
    expect(env.state.gpr[RDX]).toBe(9n);
    expect(env.readBytes(0x2000n, 4)).toEqual([10, 0, 0, 0]);
  });

  it("bswap, lahf/sahf, pushf/popf, leave", () => {
    const env = run("bswap %eax\nstc\nlahf\nclc\nsahf\npushf\npopf\nleave", (e) => {
      e.state.gpr[RAX] = 0x11223344n;
      e.state.gpr[5] = 0x7000n;
      e.state.gpr[RSP] = 0x6000n;
      e.write("ss", 0x7000n, 0x7100n, { size: 8, write: true });
    });
    expect(env.state.gpr[RAX]! & 0xffff00ffn).toBe(0x44332211n & 0xffff00ffn);
    expect(env.state.rflags & CF).toBe(CF); // sahf restored CF from AH
    expect(env.state.gpr[5]).toBe(0x7100n);
    expect(env.state.gpr[RSP]).toBe(0x7008n);
  });

  it("push/pop of segment registers and far return load the selectors through the machine", () => {
    const env = run("push %fs\npop %gs\nlret", (e) => {
      e.state.gpr[RSP] = 0x6000n;
      e.state.seg.fs.selector = 0x18;
      e.write("ss", 0x6000n, 0x5000n, { size: 4, write: true });
      e.write("ss", 0x6004n, 0x8n, { size: 4, write: true });
    });
    expect(env.calls.filter((c) => c[0] === "loadSegment")).toEqual([["loadSegment", "gs", 0x18], ["loadSegment", "cs", 8]]);
    expect(env.state.rip).toBe(0x5000n);
    expect(env.state.gpr[RSP]).toBe(0x6008n);
  });
});

describe("port string instructions", () => {
  it("rep outsb writes rcx bytes from ds:rsi to port dx; insl reads into es:rdi", () => {
    const env = run("mov $0x3f8,%dx\nrep outsb\ninsl (%dx),%es:(%rdi)", (e) => {
      e.state.gpr[RCX] = 3n;
      e.state.gpr[RSI] = 0x2000n;
      e.state.gpr[RDI] = 0x3000n;
      e.load(0x2000n, Uint8Array.from([0x68, 0x69, 0x0a]));
    });
    expect(env.ports.map((p) => [p.port, p.size, p.value])).toEqual([[0x3f8, 1, 0x68], [0x3f8, 1, 0x69], [0x3f8, 1, 0x0a]]);
    expect(env.state.gpr[RSI]).toBe(0x2003n);
    expect(env.readBytes(0x3000n, 4)).toEqual([0x5a, 0x5a, 0x5a, 0x5a]);
    expect(env.state.gpr[RDI]).toBe(0x3004n);
  });
});

describe("prefix rules", () => {
  it("lock on an instruction without a memory destination raises #UD", () => {
    const env = new FakeEnv();
    env.load(0x1000n, Uint8Array.from([0xf0, 0x01, 0xc3]));
    env.state.rip = 0x1000n;
    expect(() => env.step()).toThrow(expect.objectContaining({ vector: 6 }));
  });

  it("kernel-half addresses fit sign-extended 32-bit fields", () => {
    const p = assembleX86("movq $high, %rax\nmov high, %ebx\n.org 0x1000\nhigh: .quad 0", { base: 0xffffffff80000000n });
    expect(Array.from(p.bytes.subarray(0, 7))).toEqual([0x48, 0xc7, 0xc0, 0x00, 0x10, 0x00, 0x80]);
    expect(Array.from(p.bytes.subarray(7, 14))).toEqual([0x8b, 0x1c, 0x25, 0x00, 0x10, 0x00, 0x80]);
  });
});
