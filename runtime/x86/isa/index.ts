// The x86 instruction set of exitlab: one table (table.ts, after the Intel SDM Vol. 2 opcode maps)
// drives the decoder, the disassembler, the assembler and the interpreter.
//
//   decodeX86(fetch, mode)            bytes → X86Insn (table entry + typed operands); never throws
//                                     except what `fetch` throws; undefined encodings → "(bad)"/#UD
//   executeX86(env, insn)             semantics against X86Env; state.rip = this instruction,
//                                     state.nextRip = rip + length (branches overwrite it)
//   disassembleX86(insn, address)     GNU objdump AT&T text (re-assembles to the same bytes)
//   assembleX86(source, options)      GNU as AT&T source → X86Program (bytes, symbols, listing)

export { decodeX86 } from "./decode.js";
export { disassembleX86, formatSpec, mnemonicOf } from "./disasm.js";
export { executeX86, SEMANTICS } from "./semantics/index.js";
export { X86_TABLE, UD_SPEC } from "./table.js";
export type { OperandForm, X86Insn, X86Operand, X86Prefixes, X86Spec, RegSize } from "./types.js";
export type { X86Mode } from "../env.js";
export { assembleX86, type X86Program, type AssembleOptions } from "./asm/assembler.js";
