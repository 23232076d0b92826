// A64 GNU as source → statements (runtime/core/asm-source.ts) in the A64 dialect: `//` and `/* */`
// comments (`#` is the immediate prefix in A64, so it starts a comment only as a line's first
// character, as for cpp lines), labels `name:` and `1:` (not `::`).

import { parseStatements as parse, type AsmDialect, type Statement } from "../../../core/asm-source.js";

export type { Statement };

const A64_DIALECT: AsmDialect = { hashComment: "line-start", charConstants: false, label: /^([A-Za-z_.$][\w.$]*|\d+)\s*:(?![:=])/ };

export function parseStatements(source: string): Statement[] {
  return parse(source, A64_DIALECT);
}
