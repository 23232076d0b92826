// The whole A64 table, compiled once: patterns → mask/value/fields, syntax → nodes, aliases
// linked to the entry whose semantics they run. Order matters only among entries with the same
// number of fixed bits: aliases are listed before the entry they stand for (see decode.ts).

import type { A64Spec, A64SpecDecl } from "../types.js";
import { compilePattern } from "../pattern.js";
import { parseSyntax, type ParsedSyntax } from "../syntax.js";
import { dataProcessingImmediate } from "./dp-imm.js";
import { dataProcessingRegister } from "./dp-reg.js";
import { branches } from "./branch.js";
import { system } from "./system.js";
import { loadsAndStores } from "./ldst.js";
import { runTemplate } from "../block.js";

export interface CompiledSpec extends A64Spec {
  /** Fields of this entry's own pattern (what the assembler places). */
  ownFields: A64Spec["fields"];
  parsed: ParsedSyntax;
  /** Encodability check for the assembler: the base entry's condition (an alias's own `when` is a preference). */
  encodable?: (f: Record<string, number>) => boolean;
}

export const A64_DECLS: readonly A64SpecDecl[] = [
  ...dataProcessingImmediate,
  ...dataProcessingRegister,
  ...branches,
  ...system,
  ...loadsAndStores,
];

function compileAll(decls: readonly A64SpecDecl[]): CompiledSpec[] {
  const byName = new Map<string, A64SpecDecl>();
  for (const d of decls) {
    if (byName.has(d.name)) throw new Error(`A64 table: duplicate entry name ${d.name}`);
    byName.set(d.name, d);
  }
  return decls.map((d) => {
    const p = compilePattern(d.pattern, d.name);
    const base = d.aliasOf ? byName.get(d.aliasOf) : d;
    if (!base) throw new Error(`A64 table: ${d.name} is an alias of unknown ${d.aliasOf}`);
    if (base.gen && base.exec) throw new Error(`A64 table: ${base.name} has both a template and BigInt semantics`);
    const run = base.exec;
    if (!run && !base.gen && !d.asmOnly) throw new Error(`A64 table: ${d.name} has no semantics`);
    // an alias decodes the base's fields too, so that the base's semantics can run on them
    const fields = [...p.fields];
    if (d.aliasOf) for (const bf of compilePattern(base.pattern, base.name).fields) if (!fields.some((f) => f.name === bf.name)) fields.push(bf);
    const key = /^[a-z0-9]+/.exec(d.syntax)![0];
    const spec: CompiledSpec = {
      ...d, mask: p.mask, value: p.value, asmValue: p.asmValue, fields, ownFields: p.fields, key,
      emit: base.gen, branches: base.branches,
      run: run ?? (base.gen ? (env, f) => runTemplate(env, spec, f) : () => { throw new Error(`${d.name} is assembler-only`); }),
      parsed: parseSyntax(d.syntax, d.name),
      encodable: base.when,
    };
    return spec;
  });
}

export const A64_TABLE: readonly CompiledSpec[] = compileAll(A64_DECLS);

/** The entry run for encodings no pattern matches (Arm ARM: UNDEFINED / unallocated). */
export const UNDEFINED_SPEC: CompiledSpec = {
  name: "UNDEFINED", pattern: "", syntax: ".inst", mask: 0, value: 0, asmValue: 0, fields: [], ownFields: [], key: ".inst",
  run: (env) => env.undefinedInstruction(), parsed: { mnemonic: [], operands: [] },
};
