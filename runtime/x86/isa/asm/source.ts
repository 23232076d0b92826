// Source text → statements for the x86 assembler (runtime/core/asm-source.ts) in the x86 dialect:
// `#`, `//` and `/* */` comments, 'c' character constants, labels `name:` and `1:`.

import { parseStatements as parse, type AsmDialect, type Statement } from "../../../core/asm-source.js";

export { parseString, type Statement } from "../../../core/asm-source.js";

const X86_DIALECT: AsmDialect = { hashComment: "anywhere", charConstants: true, label: /^([A-Za-z_.$][\w.$]*|\d+)\s*:(?!=)/ };

export function parseStatements(source: string): Statement[] {
  return parse(source, X86_DIALECT);
}
