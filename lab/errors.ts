// Errors raised while evaluating a statement, and their conversion into ErrorResults that point
// at the source with a caret.

import type { Pos } from "../grammar/ast.js";
import type { ErrorResult } from "./results.js";

/** An evaluation error at a source span. `name` is the class the user sees. */
export class LabError extends Error {
  constructor(
    override readonly name: string,
    message: string,
    readonly pos?: Pos,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export const nameError = (message: string, pos?: Pos, hint?: string) => new LabError("NameError", message, pos, hint);
export const typeError = (message: string, pos?: Pos, hint?: string) => new LabError("TypeError", message, pos, hint);
export const valueError = (message: string, pos?: Pos, hint?: string) => new LabError("ValueError", message, pos, hint);

/** Build the error result: the line of `source` at `pos` and a caret run under the span. */
export function errorResult(source: string, name: string, message: string, pos: Pos | undefined, hint?: string): ErrorResult {
  const p = pos ?? { line: 1, col: 1, offset: 0, end: 0 };
  const lines = source.split("\n");
  const sourceLine = (lines[p.line - 1] ?? "").replace(/\r$/, "");
  const lineEnd = sourceLine.length + 1;
  const width = Math.max(1, Math.min(p.end - p.offset, lineEnd - p.col));
  const caret = " ".repeat(Math.max(0, p.col - 1)) + "^".repeat(width);
  return { kind: "error", name, message, line: p.line, column: p.col, sourceLine, caret, ...(hint ? { hint } : {}) };
}
