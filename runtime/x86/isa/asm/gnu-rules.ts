// The instruction-specific spelling rules of GNU as (AT&T syntax) that the generic operand-size
// logic of encode.ts does not cover: which size suffixes an instruction takes and what they mean,
// and which operands may be left out. Each rule was checked against GNU as 2.40 (binutils
// gas/config/tc-i386.c and opcodes/i386-opc.tbl) by the agreement test
// (test/runtime/x86/isa/gnu-agree.test.ts), which generates every table entry with every suffix.

import type { X86Spec } from "../types.js";
import type { AsmOperand } from "./operands.js";

export type Bits = 16 | 32 | 64;

/** What a rule decides about a suffix (or its absence) for one table entry. */
export interface SuffixRule {
  /** The suffix is not accepted ("invalid instruction suffix"). */
  reject?: string;
  /** The operand size to use (overrides the generic suffix/default logic). */
  v?: number;
  /** Address size named by the suffix (loopl/loopq). */
  addrSize?: number;
  /** Emit no operand-size prefix/REX.W for `v` (sgdtq, smsww, sreg moves). */
  noSizePrefix?: boolean;
  /** Emit no REX.W (mov %es,%rbx: a segment register move is the same at every size). */
  noRexW?: boolean;
}

const SEM_NO_SUFFIX = new Set(["cbw", "cwd", "iret"]);

/**
 * GNU as's suffix rules for `spec` as written with `suffix` (bytes: 1 b, 2 w, 4 l, 8 q; undefined =
 * none); undefined when the generic rules apply. `ops` are in Intel order.
 */
export function gnuSuffixRule(spec: X86Spec, suffix: number | undefined, bits: Bits, ops: AsmOperand[]): SuffixRule | undefined {
  const mem = ops.some((o) => o.kind === "mem" || o.kind === "expr");
  const def = bits === 16 ? 2 : 4;
  const wide = bits === 64 ? 8 : 4;
  switch (spec.sem) {
    case "cbw": case "cwd": case "iret":
      // cbtw/cwtl/cltq..., iretw/iretl/iretq already name their size
      return suffix !== undefined && SEM_NO_SUFFIX.has(spec.sem) ? { reject: "invalid instruction suffix" } : undefined;
    case "sysret":
      // sysretl / sysretq only: there is no 16-bit SYSRET (SDM Vol. 2B SYSRET)
      return suffix === 2 || suffix === 1 ? { reject: "invalid instruction suffix" } : undefined;
    case "cmpxchg8b":
      // cmpxchg8bq names the 8-byte memory operand (no REX.W); cmpxchg16b takes no suffix (binutils 2.40)
      if (suffix === undefined) return undefined;
      return spec.osize === undefined && suffix === 8 ? {} : { reject: "invalid instruction suffix" };
    case "sysexit":
      // sysexitl / sysexitq in 64-bit code; elsewhere GNU as takes no suffix at all (binutils 2.40)
      return suffix === 2 || suffix === 1 || (bits !== 64 && suffix !== undefined) ? { reject: "invalid instruction suffix" } : undefined;
    case "bswap":
      // no 16-bit form (its result is undefined, SDM BSWAP)
      if (suffix === 2) return { reject: "invalid instruction suffix" };
      return ops.some((o) => o.kind === "reg" && o.size === 2) ? { reject: "operand size mismatch" } : undefined;
    case "sdt": case "ldt":
      // sgdt/sidt/lgdt/lidt: in 64-bit code only q, and no prefix; elsewhere w (a 24-bit base) or
      // l, with 66 when it is not the mode's size (lgdtl in .code16)
      if (bits !== 64 && (suffix === 2 || suffix === 4)) return { v: suffix };
      if (suffix !== undefined && suffix !== 8) return { reject: "invalid instruction suffix" };
      return { v: def, noSizePrefix: true };
    case "smsw":
      // a memory destination is always 16 bits: smsww takes no 66 prefix, smswl/smswq do not exist
      if (!mem) return undefined;
      if (suffix !== undefined && suffix !== 2) return { reject: "operand size mismatch" };
      return { v: def, noSizePrefix: true };
    case "lmsw":
      return suffix === 2 ? { v: 2, noSizePrefix: true } : undefined;
    case "fldcw": case "fnstcw": case "fnstsw":
      // fldcw/fnstcw/fnstsw: a 16-bit word in memory, which `w` names (no 66); nothing else
      if (suffix === undefined) return undefined;
      return suffix === 2 && mem ? { v: def, noSizePrefix: true } : { reject: "invalid instruction suffix" };
    case "loadfar":
      // lss/lfs/lgs (lds/les outside 64-bit code): GNU as has no m16:64 form (REX.W), though the
      // processor decodes one; `q` and 64-bit registers are refused
      if (suffix === 8) return { reject: "invalid instruction suffix" };
      return ops.some((o) => o.kind === "reg" && o.size === 8) ? { reject: "operand size mismatch" } : undefined;
    case "sysseg": case "loadsysseg":
      // sldt/str/lldt/ltr: a selector in memory (and lldt/ltr's operand) is 16 bits, which `w`
      // names (no 66); a register destination of sldt/str takes the register's size, and `q`
      // repeats it without REX.W (the selector is zero-extended either way).
      if (suffix === 2 && (mem || spec.sem === "loadsysseg")) return { v: def, noSizePrefix: true };
      if (suffix !== undefined && spec.sem === "loadsysseg") return { reject: "invalid instruction suffix" };
      if (suffix === 8 && !mem) return { noRexW: true };
      return undefined;
    case "loop": case "jrcxz":
      // loopl/loopq name the address size (the counter register): 67 when it is not the mode's
      if (suffix === undefined || spec.sem === "jrcxz") return undefined;
      if (suffix === 1 || (bits === 64 && suffix === 2) || (bits !== 64 && suffix === 8)) return { reject: "invalid instruction suffix" };
      return { addrSize: suffix };
    case "call":
      // a direct call takes w (rel16, 66) or the mode's size; a direct jmp takes no suffix
      if (suffix === undefined) return undefined;
      return suffix === 2 || suffix === wide ? { v: suffix } : { reject: "invalid instruction suffix" };
    case "jmp": case "jcc":
      return suffix !== undefined ? { reject: "invalid instruction suffix" } : undefined;
    case "jmpind": case "callind": case "ret":
      // jmpw/callw/retw: a 16-bit operand (66) even in 64-bit code; l is not encodable there
      if (suffix === undefined) return undefined;
      if (suffix === 2 || suffix === wide) return { v: suffix };
      return { reject: "invalid instruction suffix" };
    case "jmpfarind": case "callfarind":
      return suffix === 8 ? { reject: "invalid instruction suffix" } : undefined;
    case "ins": case "outs":
      return suffix === 8 ? { reject: "invalid instruction suffix" } : undefined;
    case "mov": case "movsreg":
      if (spec.operands.includes("Sw")) {
        // segment register moves: a 64-bit register takes no REX.W; memory is always 16 bits (movw)
        if (mem) return suffix === undefined || suffix === 2 ? { v: def, noSizePrefix: true } : { reject: "invalid instruction suffix" };
        return { noRexW: true };
      }
      return undefined;
    case "movfromcr": case "movtocr": case "movfromdr": case "movtodr":
      // movq %cr0,%rax (movl in 32-bit code): the suffix may repeat the register size
      if (suffix === undefined) return undefined;
      return suffix === wide ? { v: wide, noSizePrefix: true } : { reject: "invalid instruction suffix" };
  }
  return undefined;
}

/** Sems whose accumulator operand GNU as lets the source leave out when the other is given (`out %dx`, `stos %es:(%rdi)`). */
const IMPLICIT_SEMS = new Set(["in", "out", "stos", "lods", "scas"]);
const IMPLICIT_FORMS = new Set(["AL", "rAX", "eAX"]);

/**
 * `ops` (Intel order) with left-out implicit operands filled in as `implicit`, trying the ways to
 * choose them in order; returns the candidates (the caller keeps the first that encodes).
 */
export function withImplicit(spec: X86Spec, ops: AsmOperand[], fits: (form: string, op: AsmOperand) => boolean): AsmOperand[][] {
  const forms = spec.operands;
  if (!IMPLICIT_SEMS.has(spec.sem) || ops.length >= forms.length || ops.length === 0) return [];
  const out: AsmOperand[][] = [];
  const missing = forms.length - ops.length;
  const omittable = forms.map((f, i) => (IMPLICIT_FORMS.has(f) ? i : -1)).filter((i) => i >= 0);
  const choose = (start: number, left: number, chosen: number[]) => {
    if (left === 0) {
      const full: AsmOperand[] = [];
      let k = 0;
      for (let i = 0; i < forms.length; i++) {
        if (chosen.includes(i)) full.push({ kind: "implicit", form: forms[i] } as unknown as AsmOperand);
        else full.push(ops[k++]!);
      }
      if (full.every((o, i) => (o.kind as string) === "implicit" || fits(forms[i]!, o))) out.push(full);
      return;
    }
    for (let j = start; j < omittable.length; j++) choose(j + 1, left - 1, [...chosen, omittable[j]!]);
  };
  choose(0, missing, []);
  return out;
}

/** GNU as: on movzx/movsx a suffix names the source size (movzxw = movzw; movsxl = movsxd, 64-bit only). */
export const MOVX_SUFFIXED: Record<string, string> = { movzxb: "movzb", movzxw: "movzw", movsxb: "movsb", movsxw: "movsw", movsxl: "movsxd" };

/**
 * GNU as's suffix rules for the zero/sign extensions: movzb/movzw/movsb/movsw/movsl take a
 * destination-size suffix larger than the source (movzbl, movswq, movslq); movzx/movsx/movsxd take
 * none (movzxw names the source, see MOVX_SUFFIXED); movzw/movsw as written need a destination
 * wider than 16 bits. Returns why the spelling is refused, or undefined.
 */
export function movxRule(spec: X86Spec, suffix: number | undefined, mnemonic: string | undefined, movxSource: boolean, ops: AsmOperand[]): string | undefined {
  if (spec.sem !== "movzx" && spec.sem !== "movsx") return undefined;
  const src = spec.operands.includes("Eb") ? 1 : spec.operands.includes("Ew") ? 2 : 4;
  const base = suffix !== undefined ? mnemonic?.slice(0, -1) : undefined;
  if (suffix !== undefined && (movxSource || base === "movzx" || base === "movsx" || base === "movsxd" || suffix <= src)) return "invalid instruction suffix";
  const dst = ops[0];
  if (suffix === undefined && src === 2 && !movxSource && (mnemonic === "movzw" || mnemonic === "movsw") && dst?.kind === "reg" && dst.size === 2) return "operand size mismatch";
  return undefined;
}
