// The disassembler: the decoded entry's syntax template filled with its operand view, in GNU
// objdump's spelling (preferred aliases come from the table's alias entries).

import { decodeA64 } from "./decode.js";
import { formatNodes } from "./syntax.js";
import { fieldsAsOps } from "./table/common.js";
import type { CompiledSpec } from "./table/index.js";
import type { A64Insn } from "./types.js";

export function formatA64(insn: A64Insn, address: bigint): string {
  const spec = insn.spec as CompiledSpec;
  if (spec.name === "UNDEFINED") return `.inst 0x${insn.word.toString(16).padStart(8, "0")} ; undefined`;
  const ops = spec.view ? spec.view(insn.fields, address) : fieldsAsOps(insn.fields);
  const mn = formatNodes(spec.parsed.mnemonic, ops, spec);
  const operands = formatNodes(spec.parsed.operands, ops, spec).trim();
  return operands ? `${mn} ${operands}` : mn;
}

export function disassembleA64(word: number, address: bigint): string {
  return formatA64(decodeA64(word), address);
}
