// The x86 instruction set of exitlab: one table (table.ts) drives the decoder, the disassembler,
// the assembler and the interpreter.

export { decodeX86 } from "./decode.js";
export { disassembleX86, mnemonicOf } from "./disasm.js";
export { executeX86, SEMANTICS } from "./semantics/index.js";
export { X86_TABLE, UD_SPEC } from "./table.js";
export type { OperandForm, X86Insn, X86Operand, X86Prefixes, X86Spec, RegSize } from "./types.js";
export type { X86Mode } from "../env.js";
export { assembleX86, type X86Program, type AssembleOptions } from "./asm/assembler.js";
