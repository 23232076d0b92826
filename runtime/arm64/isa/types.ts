// The shape of the A64 instruction table (in the spirit of QEMU decodetree, docs/devel/decodetree.rst):
// every entry is a bit pattern with named fields, one line of assembly syntax, and a small
// semantic function over the named fields. The decoder, the disassembler and the assembler are
// all derived from these entries; the semantic functions never look at raw bits.

import type { A64Env } from "../env.js";
import type { Gen } from "./gen.js";

/** Named operand fields of one decoded instruction (unsigned field values). */
export type A64Fields = Record<string, number>;

/**
 * Operand values as the syntax shows them (registers, immediates as written, absolute branch
 * targets, condition/shift/extend codes). By default a copy of the fields; an entry's `view`
 * computes them for the disassembler and its `build` turns them back into fields for the assembler.
 */
export type A64Ops = Record<string, bigint | undefined>;

export interface A64FieldDef {
  name: string;
  lsb: number;
  width: number;
}

/** What an entry declares (see table/*.ts). */
export interface A64SpecDecl {
  /** Unique name, e.g. "ADD_imm", or "MOV_orr" for a preferred alias of ORR_reg. */
  name: string;
  /** 32 bits, most significant first: 0/1 fixed, `.` don't care, `o` should-be-one (decoder ignores, assembler sets), `name:width` a field. */
  pattern: string;
  /**
   * Assembly syntax template: `<Rd>` register sized by sf (31 = zr), `<Rd|sp>` 31 = sp, `X`/`W`
   * instead of `R` for a fixed width, `V` for a width chosen by the operand (ops["w:Rd"]);
   * `#<imm>` hex immediate, `#<imm:d>` decimal; `<label>` absolute target; `<cond>`, `<shift>`,
   * `<ext>`, `<sysreg>`, `<sysop>`, `<barrier>`, `<pstate>`; `{...}` an optional group that the
   * disassembler omits when all its operands are zero/undefined.
   */
  syntax: string;
  /** Preferred alias of another entry (same encoding space, extra condition). */
  aliasOf?: string;
  /** Extra decode condition beyond mask/value (aliases, unallocated combinations). */
  when?: (f: A64Fields) => boolean;
  /** Fields (+ instruction address) → operand values shown by the syntax. */
  view?: (f: A64Fields, pc: bigint) => A64Ops;
  /** Operand values parsed by the assembler → fields; throws an A64BuildError when not encodable. */
  build?: (o: A64Ops, pc: bigint) => A64Fields;
  /** Ends its block: a branch (its template calls g.branchTo or g.jump) or an instruction that leaves it (g.leave: HVC). */
  branches?: boolean;
  /**
   * Semantics as a code template (isa/gen.ts): calls on the builder that emit the instruction's
   * code over the register file's 32-bit halves. Both the interpreter and the block compiler run
   * it. Omitted for aliases (they run their base entry's).
   */
  gen?: (f: A64Fields, g: Gen) => void;
  /**
   * Semantics over BigInt register values, for the instructions that have no template (system
   * instructions, exclusives, rare arithmetic): run through the A64Env, always at the end of a
   * block. An entry has `gen` or `exec`, never both.
   */
  exec?: (env: A64Env, f: A64Fields) => void;
  /** Names for `<sysop>` (dc/ic/tlbi/at): packed op1<<7|crm<<3|op2 → name (crn implied). */
  sysops?: Record<string, number>;
  /** Assembler only: not produced by the decoder (e.g. `ldr x0, =sym` pseudo forms). */
  asmOnly?: boolean;
  /** Decode priority: higher wins among matching entries (default: more fixed bits wins). */
  priority?: number;
}

export interface A64Spec extends A64SpecDecl {
  mask: number;
  value: number;
  /** Bits the assembler starts from (value + should-be-one bits). */
  asmValue: number;
  fields: A64FieldDef[];
  /** Mnemonic key the assembler indexes by (text before the first `.`, `<` or space). */
  key: string;
  /** The template to emit (the alias base's when this is an alias); absent → `run` is bridged. */
  emit?: (f: A64Fields, g: Gen) => void;
  /** BigInt semantics (the alias base's `exec`), or a runner of the template through the env for entries with `gen`. */
  run: (env: A64Env, f: A64Fields) => void;
}

export interface A64Insn {
  spec: A64Spec;
  fields: A64Fields;
  word: number;
}

/** Thrown by `build` when operand values cannot be encoded (the assembler adds line/column). */
export class A64BuildError extends Error {
  constructor(message: string, readonly hint?: string) {
    super(message);
    this.name = "A64BuildError";
  }
}
