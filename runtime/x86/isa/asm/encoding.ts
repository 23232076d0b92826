// The x86 encoder's shared vocabulary: what an encoding is (bytes and the fixups labels fill in
// later), what encoding one instruction reads of the assembler, why a table entry did not fit, and
// the operand-size facts the entry choice (encode.ts) and the byte layout (builder.ts) both read.

import type { Expr } from "../../../core/asm-expr.js";
import type { OperandForm, X86Spec } from "../types.js";
import type { AsmRegister } from "./operands.js";

/** The code size the assembler encodes for (.code16/.code32/.code64). */
export type Bits = 16 | 32 | 64;

/** A field of an instruction filled in once a label's value is known. */
export interface Fixup {
  /** Byte offset within the instruction. */
  at: number;
  size: 1 | 2 | 4 | 8;
  expr: Expr;
  /** Relative to the end of the instruction (branches, %rip). */
  pcrel: boolean;
  /** Allowed range of the value: signed, unsigned-or-signed, or any. */
  range: "s" | "us" | "any";
  column: number;
}

/** One instruction encoded by table entry `spec`: its bytes (zeros where fixups go). */
export interface Encoding {
  spec: X86Spec;
  bytes: number[];
  fixups: Fixup[];
}

/** What encoding one instruction reads of the assembler: the mode, the source position, constants. */
export interface EncodeContext {
  bits: Bits;
  line: number;
  column: number;
  /** Value of an expression if it is an absolute constant now (no labels, no `.`); else undefined. */
  constValue(e: Expr): bigint | undefined;
  /** Explicit prefixes written before the mnemonic (rep, lock ...). */
  prefixes: number[];
  /** Address size an addr16/addr32 prefix word chose (bytes); undefined = the mode's. */
  addressSize?: 2 | 4;
  /** The mnemonic as written, lower case (jecxz vs jrcxz pick the address size). */
  mnemonic?: string;
  /** movzx/movsx written with a source-size suffix (movzxw): the mnemonic was rewritten, take no other suffix. */
  movxSource?: boolean;
}

/** Forms whose size is the operand size (v: 16, 32 or 64 bits; SDM Vol. 2 Appendix A.2.2). */
export const V_FORMS = new Set<OperandForm>(["Ev", "Gv", "Zv", "rAX", "eAX", "Rv", "Iz", "Iv", "Ibs", "Xv", "Yv", "Ov", "Mp", "Ap", "Ms"]);

/** Instructions without a sized operand whose size a suffix may still choose (ret/retl/retw, pushfq...). */
export const SUFFIX_SIZED = new Set(["ret", "retfar", "leave", "pushf", "popf", "pushseg", "popseg", "call", "sysret", "sysexit"]);

/**
 * Why a table entry did not fit. `stage` ranks how far matching got, so the error names the most
 * specific problem: 0 operand kinds/count, 1 operand size, 2 values and encodings, 3 CPU mode.
 */
export class Mismatch {
  readonly stage: number;
  constructor(readonly why: string, readonly sizeProblem = false, stage?: number) {
    this.stage = stage ?? (sizeProblem ? 1 : 2);
  }
}

/** A general-purpose register operand. */
export type Reg = Extract<AsmRegister, { kind: "reg" }>;

/** The mode's default operand size in bytes (2 in 16-bit code, else 4). */
export function modeDefault(bits: Bits): number {
  return bits === 16 ? 2 : 4;
}
