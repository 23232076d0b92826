// Random x86 programs (AT&T syntax) for the differential tests, in 32-bit protected mode or in
// 64-bit long mode.
//
// The program never touches the stack pointer and keeps %ebp/%rbp (the buffer base, buffer + 128)
// intact and out of any computation, so exitlab and QEMU user mode compute the same values. Every
// memory access stays inside the 256-byte buffer: base + displacement, or base + index*scale with
// the index masked just before. Loops count down %ecx (`dec %ecx; jnz` or `loop`), and nothing in
// a loop body writes %ecx/%cx/%cl/%ch. Branches go forward except those loops.
//
// Flags the SDM leaves undefined are tracked per instruction (`undef` below, with the SDM's words
// in FLAG_RULES); a flag consumer (jcc, setcc, cmovcc, adc, sbb) is only generated when the flags
// it reads are defined, and the program's final undefined set is returned so a comparison with
// real hardware/QEMU can mask it.

import { Rng, hex } from "./prng.js";

export const X86_BUF_SIZE = 256;
export const X86_BUF_BIAS = 128;
export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
export const ARITH_FLAGS = CF | PF | AF | ZF | SF | OF;

export type X86Bits = 32 | 64;

// Two exitlab bugs these programs found are fixed and covered by them (the forms are generated):
// a 32-bit shift/rotate with a masked count of 0 must still zero-extend its register in 64-bit
// mode (Intel SDM Vol. 1 3.4.1.1), and `xadd %bh, %bl` writes both registers (SDM XADD).
export type Size = 1 | 2 | 4 | 8;

export interface X86Program {
  seed: number;
  bits: X86Bits;
  /** Initial value per GPR number (0 rax .. 15 r15); rsp (4) and rbp (5) unused. */
  init: bigint[];
  /** Initial arithmetic flags (ARITH_FLAGS bits). */
  flags: number;
  buf: Uint8Array;
  body: string[];
  /** Arithmetic flags that are architecturally undefined at the end of the program. */
  undefinedFlags: number;
}

/** GPR numbers the program may use (not rsp 4, rbp 5). */
export const x86Gprs = (bits: X86Bits): number[] => (bits === 64 ? [0, 1, 2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] : [0, 1, 2, 3, 6, 7]);

const N64 = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const N32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", ...Array.from({ length: 8 }, (_, i) => `r${i + 8}d`)];
const N16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di", ...Array.from({ length: 8 }, (_, i) => `r${i + 8}w`)];
const N8 = ["al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil", ...Array.from({ length: 8 }, (_, i) => `r${i + 8}b`)];
const N8H = ["ah", "ch", "dh", "bh"]; // 32-bit mode only (no REX anywhere there)

/**
 * Per instruction class: the arithmetic flags it defines and those it leaves undefined (Intel SDM
 * Vol. 2, "Flags Affected" of each instruction).
 */
export const FLAG_RULES = {
  // ADD/ADC/SUB/SBB/CMP/NEG: "The OF, SF, ZF, AF, CF, and PF flags are set according to the result."
  arith: { def: ARITH_FLAGS, undef: 0 },
  // AND/OR/XOR/TEST: "The OF and CF flags are cleared; the SF, ZF, and PF flags are set according
  // to the result. The state of the AF flag is undefined."
  logic: { def: CF | OF | SF | ZF | PF, undef: AF },
  // INC/DEC: "The CF flag is not affected. The OF, SF, ZF, AF, and PF flags are set according to the result."
  incdec: { def: OF | SF | ZF | AF | PF, undef: 0 },
  // MUL/IMUL: "The OF and CF flags are set ...; the SF, ZF, AF, and PF flags are undefined."
  mul: { def: CF | OF, undef: SF | ZF | AF | PF },
  // BT/BTS/BTR/BTC: "The CF flag contains the value of the selected bit. The ZF flag is unaffected.
  // The OF, SF, AF, and PF flags are undefined."
  bt: { def: CF, undef: OF | SF | AF | PF },
  // NOT, MOV, MOVZX/MOVSX, LEA, SETcc, CMOVcc, XCHG, BSWAP, CBW/CWDE/CDQ: "None."
  none: { def: 0, undef: 0 },
} as const;

/**
 * SAL/SAR/SHL/SHR: "The CF flag contains the value of the last bit shifted out ...; it is undefined
 * for SHL and SHR instructions where the count is greater than or equal to the size (in bits) of the
 * destination operand. The OF flag is affected only for 1-bit shifts ...; otherwise, it is
 * undefined. The SF, ZF, and PF flags are set according to the result. If the count is 0, the
 * flags are not affected. For a non-zero count, the AF flag is undefined."
 * ROL/ROR: "If the masked count is 0, the flags are not affected. If the masked count is 1, then
 * the OF flag is affected, otherwise (masked count is greater than 1) the OF flag is undefined. The
 * CF flag is affected when the masked count is non-zero. The SF, ZF, AF, and PF flags are always
 * unaffected." `count` undefined: a %cl count, unknown here (it may be 0: nothing defined).
 * CF at count >= width is treated as undefined for SAR too (as test/runtime/x86/isa/host-flags.test.ts).
 */
export function shiftFlags(op: string, size: Size, count: number | undefined): { def: number; undef: number } {
  const rotate = op === "rol" || op === "ror";
  const width = size * 8;
  if (count === undefined) {
    // nothing is surely defined; whatever the count, these may end undefined
    if (rotate) return { def: 0, undef: OF };
    return { def: 0, undef: AF | OF | (width < 32 ? CF : 0) };
  }
  const masked = count & (size === 8 ? 63 : 31);
  if (masked === 0) return { def: 0, undef: 0 };
  if (rotate) return masked === 1 ? { def: CF | OF, undef: 0 } : { def: CF, undef: OF };
  const cfUndef = masked >= width;
  const def = SF | ZF | PF | (cfUndef ? 0 : CF) | (masked === 1 ? OF : 0);
  return { def, undef: AF | (cfUndef ? CF : 0) | (masked === 1 ? 0 : OF) };
}

/** Condition codes and the flags each reads. */
const CCS: [string, number][] = [
  ["o", OF], ["no", OF], ["b", CF], ["ae", CF], ["e", ZF], ["ne", ZF], ["be", CF | ZF], ["a", CF | ZF],
  ["s", SF], ["ns", SF], ["p", PF], ["np", PF], ["l", SF | OF], ["ge", SF | OF], ["le", ZF | SF | OF], ["g", ZF | SF | OF],
];

export interface X86GenOptions {
  bits: X86Bits;
  length: number;
  labelPrefix?: string;
  /**
   * Mix in SSE/SSE2 moves (sseMove): GPR ↔ XMM (MOVD/MOVQ), buffer ↔ XMM (MOVDQU, MOVQ),
   * XMM ↔ XMM (MOVDQA, MOVAPS) and PXOR/POR/PAND/XORPS. The XMM registers are not compared, so
   * every value reaches a GPR or the buffer to be seen. Off by default: the integer suites keep
   * their programs.
   */
  sse?: boolean;
  /**
   * Mix in the instructions behind CPUID's CX8/CX16, POPCNT, ABM (LZCNT) and MOVBE (extInsn):
   * POPCNT and LZCNT on registers and the buffer, MOVBE loads and stores, CMPXCHG8B (and, in 64-bit
   * code, CMPXCHG16B on a 16-byte aligned slot), with and without LOCK, EDX:EAX often loaded from
   * the slot first so both outcomes occur. Off by default: the other suites keep their programs.
   */
  ext?: boolean;
}

/**
 * SSE/SSE2 encodings as `.byte` lines (exitlab's assembler produces no SSE forms; GNU as takes
 * the bytes as they are): mandatory prefix, REX when a register is 8-15 or the operand is 64-bit,
 * 0F opcode, ModRM (Intel SDM Vol. 2 §2.1, MOVD/MOVQ, MOVDQU, MOVDQA, MOVAPS, PXOR, POR, PAND,
 * XORPS). `reg` is ModRM.reg (an XMM register), `rm` either a register (mod 3) or the buffer base
 * %rbp/%ebp plus a 32-bit displacement (mod 2, rm 5).
 */
function sseBytes(prefix: number | null, opcode: number, reg: number, rm: number | { disp: number }, w = false): string {
  const out: number[] = [];
  if (prefix !== null) out.push(prefix);
  const rmReg = typeof rm === "number" ? rm : 5;
  const rex = 0x40 | (w ? 8 : 0) | (reg >= 8 ? 4 : 0) | (rmReg >= 8 ? 1 : 0);
  if (rex !== 0x40) out.push(rex);
  out.push(0x0f, opcode);
  if (typeof rm === "number") out.push(0xc0 | ((reg & 7) << 3) | (rm & 7));
  else {
    out.push(0x80 | ((reg & 7) << 3) | 5);
    const d = rm.disp >>> 0;
    out.push(d & 0xff, (d >>> 8) & 0xff, (d >>> 16) & 0xff, d >>> 24);
  }
  return `.byte ${out.map((b) => "0x" + b.toString(16)).join(", ")}`;
}

export function generateX86(seed: number, opts: X86GenOptions): X86Program {
  const rng = new Rng(seed);
  const bits = opts.bits;
  const gprs = x86Gprs(bits);
  const init = Array.from({ length: 16 }, (_, i) => (gprs.includes(i) ? (bits === 32 ? rng.u64() & 0xffff_ffffn : rng.u64()) : 0n));
  const flags = rng.u32() & ARITH_FLAGS;
  const buf = rng.bytes(X86_BUF_SIZE);
  const body: string[] = [];
  const prefix = opts.labelPrefix ?? "";
  let labels = 0;
  const newLabel = () => `${prefix}L${labels++}`;
  const pending: { label: string; left: number; undef: number }[] = [];
  let undef = 0;
  let inLoop = false;
  const base = bits === 64 ? "%rbp" : "%ebp";

  const sizes: Size[] = bits === 64 ? [1, 2, 4, 8] : [1, 2, 4];
  const sfx = (s: Size) => ({ 1: "b", 2: "w", 4: "l", 8: "q" })[s];
  /** A register operand of `size` that may be written (not %ecx in a loop). */
  function reg(size: Size, write: boolean): string {
    for (;;) {
      if (size === 1 && bits === 32) {
        // al cl dl bl ah ch dh bh: (no sil/dil without REX) all parts of eax..ebx
        const h = rng.int(0, 7);
        if (write && inLoop && (h & 3) === 1) continue;
        return "%" + (h < 4 ? N8[h] : N8H[h - 4]);
      }
      const r = rng.pick(gprs);
      if (write && inLoop && r === 1) continue;
      return "%" + (size === 8 ? N64 : size === 4 ? N32 : size === 2 ? N16 : N8)[r];
    }
  }
  const imm = (size: Size) => {
    const v = rng.u64() & ((1n << BigInt(Math.min(size, 4) * 8 - 1)) - 1n); // a positive imm8/16/32
    return rng.chance(0.3) ? `$-${v}` : `$${hex(v)}`;
  };
  /** A memory operand for an access of `size`, with its index set-up. */
  function mem(size: Size): { setup: string[]; op: string } {
    if (rng.chance(0.6)) return { setup: [], op: `${rng.int(-X86_BUF_BIAS, X86_BUF_SIZE - X86_BUF_BIAS - size)}(${base})` };
    // base + index*scale + disp, index masked into 0..15 first (`and` defines the flags but AF)
    const scale = rng.pick([1, 2, 4, 8]);
    const idxNum = rng.pick(gprs.filter((r) => !(inLoop && r === 1)));
    const idx = "%" + (bits === 64 ? N64 : N32)[idxNum];
    const disp = rng.int(-X86_BUF_BIAS, X86_BUF_SIZE - X86_BUF_BIAS - size - 15 * scale);
    setFlags(FLAG_RULES.logic);
    return { setup: [`and $15, ${idx}`], op: `${disp}(${base},${idx},${scale})` };
  }
  function setFlags(r: { def: number; undef: number }): void {
    undef = (undef & ~r.def) | r.undef;
  }
  const condReading = (): string | undefined => {
    const ok = CCS.filter(([, reads]) => (reads & undef) === 0);
    return ok.length ? rng.pick(ok)[0] : undefined;
  };

  /** One SSE move or bitwise operation (X86GenOptions.sse); none of them changes a flag. */
  function sseMove(): string[] | undefined {
    const xmm = () => rng.int(0, bits === 64 ? 15 : 7);
    const gpr = () => rng.pick(gprs);
    const disp = (size: number) => ({ disp: rng.int(-X86_BUF_BIAS, X86_BUF_SIZE - X86_BUF_BIAS - size) });
    const wide = bits === 64 && rng.chance(0.5);
    switch (rng.int(0, 7)) {
      case 0: return [sseBytes(0x66, 0x6e, xmm(), gpr(), wide)]; // movd/movq r32/64 → xmm
      case 1: { // movd/movq xmm → r32/64
        const r = gpr();
        if (inLoop && r === 1) return undefined;
        return [sseBytes(0x66, 0x7e, xmm(), r, wide)];
      }
      case 2: return [sseBytes(0xf3, 0x6f, xmm(), disp(16))]; // movdqu m128 → xmm
      case 3: return [sseBytes(0xf3, 0x7f, xmm(), disp(16))]; // movdqu xmm → m128
      case 4: { // movaps / movapd / movdqa xmm → xmm
        const [pfx, op] = rng.pick([[null, 0x28], [0x66, 0x28], [0x66, 0x6f]] as const);
        return [sseBytes(pfx, op, xmm(), xmm())];
      }
      case 5: return [sseBytes(0x66, rng.pick([0xef, 0xeb, 0xdb]), xmm(), xmm())]; // pxor/por/pand
      case 6: return [sseBytes(null, 0x57, xmm(), xmm())]; // xorps
      default: { // movq m64 → xmm (F3 0F 7E) or xmm → m64 (66 0F D6)
        const [pfx, op] = rng.pick([[0xf3, 0x7e], [0x66, 0xd6]] as const);
        return [sseBytes(pfx, op, xmm(), disp(8))];
      }
    }
  }

  /** One of the X86GenOptions.ext instructions. */
  function extInsn(): string[] | undefined {
    const size = rng.pick(sizes.filter((z) => z !== 1));
    const s = sfx(size);
    switch (rng.int(0, 3)) {
      case 0: case 1: { // POPCNT: all flags defined (ZF from the source); LZCNT: CF and ZF, OF/SF/AF/PF undefined
        const op = rng.pick(["popcnt", "lzcnt"]);
        const m = rng.chance(0.4) ? mem(size) : undefined;
        // sources with few set bits or leading zeros now and then
        const setup = !m && rng.chance(0.3) ? [`mov${s} $${rng.pick([0, 1, 0x80, 0x7fff])}, ${reg(size, true)}`] : [];
        const src = m ? m.op : setup.length ? setup[0]!.split(", ")[1]! : reg(size, false);
        setFlags(op === "popcnt" ? { def: ARITH_FLAGS, undef: 0 } : { def: CF | ZF, undef: OF | SF | AF | PF });
        return [...(m?.setup ?? []), ...setup, `${op}${s} ${src}, ${reg(size, true)}`];
      }
      case 2: { // MOVBE load or store (no flags)
        const m = mem(size);
        return [...m.setup, rng.chance(0.5) ? `movbe${s} ${m.op}, ${reg(size, true)}` : `movbe${s} ${reg(size, false)}, ${m.op}`];
      }
      default: { // CMPXCHG8B / CMPXCHG16B on a buffer slot: only ZF changes (SDM), but see below
        const wide = bits === 64 && rng.chance(0.4);
        const half = wide ? 8 : 4;
        const slot = wide ? 16 * rng.int(-X86_BUF_BIAS / 16, (X86_BUF_SIZE - X86_BUF_BIAS) / 16 - 1) : rng.int(-X86_BUF_BIAS, X86_BUF_SIZE - X86_BUF_BIAS - 8);
        const [a, d] = wide ? ["%rax", "%rdx"] : ["%eax", "%edx"];
        const load = rng.chance(0.6) ? [`mov ${slot}(${base}), ${a}`, `mov ${slot + half}(${base}), ${d}`] : [];
        // QEMU 7.2's helper_cmpxchg8b/16b recomputes EFLAGS from env->cc_op, which translate.c does not
        // bring up to date before the call: right after an arithmetic instruction the other five flags
        // come out of a stale CC_OP (`clc; sbb $-1,%rcx; cmpxchg8b` leaves CF 0 under qemu-x86_64 7.2).
        // So only ZF is compared; that the others are kept is test/runtime/x86/isa/ext-insns.test.ts's.
        setFlags({ def: ZF, undef: ARITH_FLAGS & ~ZF });
        return [...load, `${rng.chance(0.3) ? "lock " : ""}${wide ? "cmpxchg16b" : "cmpxchg8b"} ${slot}(${base})`];
      }
    }
  }

  /** One instruction (with any set-up lines); undefined when the pick is not possible now. */
  function insn(): string[] | undefined {
    if (opts.sse && rng.chance(0.3)) return sseMove();
    if (opts.ext && rng.chance(0.35)) return extInsn();
    const size = rng.pick(sizes);
    const s = sfx(size);
    const k = rng.int(0, 25);
    switch (k) {
      case 0: case 1: { // add/sub/and/or/xor/cmp reg, reg
        const op = rng.pick(["add", "sub", "and", "or", "xor", "cmp"]);
        const line = `${op}${s} ${reg(size, false)}, ${reg(size, op !== "cmp")}`;
        setFlags(op === "add" || op === "sub" || op === "cmp" ? FLAG_RULES.arith : FLAG_RULES.logic);
        return [line];
      }
      case 2: { // ALU with an immediate
        const op = rng.pick(["add", "sub", "and", "or", "xor", "cmp", "test"]);
        const line = `${op}${s} ${imm(size)}, ${reg(size, op !== "cmp" && op !== "test")}`;
        setFlags(op === "add" || op === "sub" || op === "cmp" ? FLAG_RULES.arith : FLAG_RULES.logic);
        return [line];
      }
      case 3: { // ALU with memory, both directions
        const op = rng.pick(["add", "sub", "and", "or", "xor", "cmp", "adc", "sbb"]);
        if ((op === "adc" || op === "sbb") && undef & CF) return undefined;
        const m = mem(size);
        const line = rng.chance(0.5) ? `${op}${s} ${reg(size, false)}, ${m.op}` : `${op}${s} ${m.op}, ${reg(size, op !== "cmp")}`;
        setFlags(op === "and" || op === "or" || op === "xor" ? FLAG_RULES.logic : FLAG_RULES.arith);
        return [...m.setup, line];
      }
      case 4: { // adc/sbb
        if (undef & CF) return undefined;
        const op = rng.pick(["adc", "sbb"]);
        const src = rng.chance(0.3) ? imm(size) : reg(size, false);
        setFlags(FLAG_RULES.arith);
        return [`${op}${s} ${src}, ${reg(size, true)}`];
      }
      case 5: { // test reg, reg
        setFlags(FLAG_RULES.logic);
        return [`test${s} ${reg(size, false)}, ${reg(size, false)}`];
      }
      case 6: { // inc/dec/neg/not, register or memory
        const op = rng.pick(["inc", "dec", "neg", "not"]);
        const m = rng.chance(0.3) ? mem(size) : undefined;
        setFlags(op === "not" ? FLAG_RULES.none : op === "neg" ? FLAG_RULES.arith : FLAG_RULES.incdec);
        return [...(m?.setup ?? []), `${op}${s} ${m ? m.op : reg(size, true)}`];
      }
      case 7: case 8: { // shifts and rotates by an immediate, by 1, or by %cl
        const op = rng.pick(["shl", "shr", "sar", "rol", "ror"]);
        const how = rng.int(0, 2);
        const count = how === 0 ? rng.int(0, size * 8 + 2) : how === 1 ? 1 : undefined;
        const dst = reg(size, true);
        setFlags(shiftFlags(op, size, count));
        if (how === 0) return [`${op}${s} $${count}, ${dst}`];
        if (how === 1) return [`${op}${s} ${dst}`];
        return [`${op}${s} %cl, ${dst}`];
      }
      case 9: { // imul two- and three-operand (not 8-bit)
        if (size === 1) return undefined;
        setFlags(FLAG_RULES.mul);
        if (rng.chance(0.5)) return [`imul${s} ${reg(size, false)}, ${reg(size, true)}`];
        return [`imul${s} ${imm(size)}, ${reg(size, false)}, ${reg(size, true)}`];
      }
      case 10: { // one-operand mul/imul: edx:eax (ax for bytes); not inside a loop in 64-bit... only rdx/rax written
        const op = rng.pick(["mul", "imul"]);
        setFlags(FLAG_RULES.mul);
        return [`${op}${s} ${reg(size, false)}`];
      }
      case 11: { // lea
        if (size === 1) return undefined;
        const sz: Size = size === 2 ? 4 : size; // lea with a 16-bit destination is rare: use 32/64
        const wide = bits === 64 ? N64 : N32;
        const a = "%" + wide[rng.pick(gprs)]!, b = "%" + wide[rng.pick(gprs)]!;
        const disp = rng.int(-0x8000, 0x7fff);
        const form = rng.int(0, 2);
        const addr = form === 0 ? `${disp}(${a})` : form === 1 ? `${disp}(${a},${b},${rng.pick([1, 2, 4, 8])})` : `${disp}(,${b},${rng.pick([1, 2, 4, 8])})`;
        return [`lea${sfx(sz)} ${addr}, ${reg(sz, true)}`];
      }
      case 12: { // mov reg/imm
        if (rng.chance(0.5)) return [`mov${s} ${reg(size, false)}, ${reg(size, true)}`];
        const v = size === 8 && rng.chance(0.5) ? `$${hex(rng.u64())}` : imm(size);
        return [`mov${s} ${v}, ${reg(size, true)}`];
      }
      case 13: { // movzx/movsx from a register
        const to: Size = rng.pick(bits === 64 ? [2, 4, 8] : [2, 4]);
        const from: Size = rng.pick(to === 2 ? [1] : to === 4 ? [1, 2] : [1, 2, 4]);
        const op = from === 4 ? "movs" : rng.pick(["movz", "movs"]);
        return [`${op}${sfx(from)}${sfx(to)} ${reg(from, false)}, ${reg(to, true)}`];
      }
      case 14: { // setcc
        const cc = condReading();
        if (!cc) return undefined;
        if (rng.chance(0.3)) {
          const m = mem(1);
          const line = `set${cc} ${m.op}`;
          if (m.setup.length && (CCS.find(([c]) => c === cc)![1] & AF)) return undefined;
          // the index `and` runs before setcc and redefines the flags it reads: still defined
          return [...m.setup, line];
        }
        return [`set${cc} ${reg(1, true)}`];
      }
      case 15: { // cmovcc (16/32/64)
        const cc = condReading();
        if (!cc || size === 1) return undefined;
        return [`cmov${cc}${s} ${reg(size, false)}, ${reg(size, true)}`];
      }
      case 16: case 17: { // loads, plain and extending
        if (rng.chance(0.5)) {
          const m = mem(size);
          return [...m.setup, `mov${s} ${m.op}, ${reg(size, true)}`];
        }
        const to: Size = rng.pick(bits === 64 ? [2, 4, 8] : [2, 4]);
        const from: Size = rng.pick(to === 2 ? [1] : to === 4 ? [1, 2] : [1, 2, 4]);
        const op = from === 4 ? "movs" : rng.pick(["movz", "movs"]);
        const m = mem(from);
        return [...m.setup, `${op}${sfx(from)}${sfx(to)} ${m.op}, ${reg(to, true)}`];
      }
      case 18: case 19: { // stores: register or immediate
        const m = mem(size);
        const src = rng.chance(0.7) ? reg(size, false) : imm(size);
        return [...m.setup, `mov${s} ${src}, ${m.op}`];
      }
      case 20: { // xchg, bswap
        if (rng.chance(0.5)) return [`xchg${s} ${reg(size, true)}, ${reg(size, true)}`];
        if (size < 4) return undefined;
        return [`bswap ${reg(size, true)}`];
      }
      case 21: { // bt/bts/btr/btc with a register bit offset or an immediate (registers only)
        if (size === 1) return undefined;
        const op = rng.pick(["bt", "bts", "btr", "btc"]);
        const src = rng.chance(0.5) ? `$${rng.int(0, size * 8 - 1)}` : reg(size, false);
        setFlags(FLAG_RULES.bt);
        return [`${op}${s} ${src}, ${reg(size, op !== "bt")}`];
      }
      case 22: { // sign extensions of the accumulator; carry-flag instructions
        if (rng.chance(0.3)) {
          const op = rng.pick(["clc", "stc", "cmc"]);
          // CLC/STC: "The CF flag is cleared/set to 1"; CMC: "The CF flag contains the complement
          // of its original value" (undefined stays undefined)
          if (op !== "cmc") setFlags({ def: CF, undef: 0 });
          return [op];
        }
        const forms = bits === 64 ? ["cbtw", "cwtl", "cltq", "cwtd", "cltd", "cqto"] : ["cbtw", "cwtl", "cwtd", "cltd"];
        return [rng.pick(forms)];
      }
      case 25: { // xadd / cmpxchg (register forms): flags as ADD / CMP
        const op = rng.pick(["xadd", "cmpxchg"]);
        const src = reg(size, op === "xadd"), dst = reg(size, true);
        setFlags(FLAG_RULES.arith);
        return [`${op}${s} ${src}, ${dst}`];
      }
      default: { // arithmetic on memory with an immediate
        const op = rng.pick(["add", "sub", "and", "or", "xor", "cmp", "test"]);
        const m = mem(size);
        setFlags(op === "add" || op === "sub" || op === "cmp" ? FLAG_RULES.arith : FLAG_RULES.logic);
        return [...m.setup, `${op}${s} ${imm(size)}, ${m.op}`];
      }
    }
  }

  function emit(lines: string[]): void {
    body.push(...lines);
    for (const p of pending) p.left--;
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i]!;
      if (p.left <= 0) {
        body.push(`${p.label}:`);
        undef |= p.undef; // the join: a flag undefined on either path stays undefined
        pending.splice(i--, 1);
      }
    }
  }
  function one(): string[] {
    const before = undef;
    for (;;) {
      const r = insn();
      if (r) return r;
      undef = before; // a rejected pick may have run mem() (which sets flags): undo
    }
  }

  // The XMM registers start at zero (PXOR each with itself): QEMU's batch runs programs one after another in one process.
  if (opts.sse) for (let n = 0; n < (bits === 64 ? 16 : 8); n++) body.push(sseBytes(0x66, 0xef, n, n));
  let count = 0;
  while (count < opts.length) {
    const k = rng.int(0, 99);
    if (k < 8) {
      const cc = rng.chance(0.15) ? "mp" : condReading();
      if (!cc) continue;
      const label = newLabel();
      pending.push({ label, left: rng.int(2, 7), undef });
      emit([`j${cc} ${label}`]);
      count++;
    } else if (k < 12 && pending.length === 0) {
      const head = newLabel();
      body.push(`movl $${rng.int(1, 4)}, %ecx`, `${head}:`);
      inLoop = true;
      undef = ARITH_FLAGS; // the head joins the entry and the back edge: assume nothing
      const len = rng.int(1, 6);
      for (let i = 0; i < len; i++) body.push(...one());
      inLoop = false;
      if (rng.chance(0.5)) {
        body.push("decl %ecx", `jnz ${head}`);
        setFlags(FLAG_RULES.incdec);
      } else body.push(`loop ${head}`); // LOOP: "Flags Affected: None" (counts %ecx / %rcx down)
      count += len + 2;
    } else {
      emit(one());
      count++;
    }
  }
  for (const p of pending) {
    body.push(`${p.label}:`);
    undef |= p.undef;
  }
  body.push(`${prefix}end:`);
  return { seed, bits, init, flags, buf, body, undefinedFlags: undef };
}

export function x86ProgramText(p: X86Program): string {
  const names = p.bits === 64 ? N64 : N32;
  const init = x86Gprs(p.bits).map((r) => `${names[r]}=${hex(p.init[r]!)}`).join(" ");
  return `seed ${p.seed} (${p.bits}-bit)\ninit: ${init} flags=${hex(p.flags)}; undefined at the end: ${flagNames(p.undefinedFlags)}\n` +
    p.body.map((l) => (l.endsWith(":") ? l : `  ${l}`)).join("\n");
}

export function flagNames(mask: number): string {
  const n = ([[CF, "CF"], [PF, "PF"], [AF, "AF"], [ZF, "ZF"], [SF, "SF"], [OF, "OF"]] as [number, string][]).filter(([b]) => mask & b).map(([, s]) => s);
  return n.length ? n.join(" ") : "none";
}

export { N64 as X86_GPR64, N32 as X86_GPR32 };
