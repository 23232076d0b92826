// The A64 instruction set of exitlab, described once as a table of encoding patterns
// (table/*.ts) from which the decoder, the disassembler, the assembler and the interpreter's
// semantics all derive.
//
//   decodeA64(word)                  → A64Insn { spec, fields, word } (never throws; UNDEFINED entry)
//   executeA64(env, insn)            → runs the semantics against an A64Env
//   disassembleA64(word, address)    → GNU objdump-style text
//   assembleA64(source, {base, fileName}) → A64Program { base, bytes, symbols, lines }
//
// MRS/MSR names come from runtime/arm64/sysregs.ts when it exists (see names.ts); without it the
// generic s3_0_c1_c0_0 form is printed and accepted (it is always accepted).

export type { A64Insn, A64Spec, A64Fields, A64Ops } from "./types.js";
export { setSysregNames, DEFAULT_SYSREG_NAMES } from "./names.js";
export { decodeA64 } from "./decode.js";
export { executeA64 } from "./execute.js";
export { disassembleA64, formatA64 } from "./disasm.js";
export { assembleA64, type A64Program, type A64AsmOptions } from "./asm/assembler.js";
export { A64_TABLE, UNDEFINED_SPEC } from "./table/index.js";
export { DC_OPS, IC_OPS, AT_OPS, TLBI_OPS } from "./table/system.js";
