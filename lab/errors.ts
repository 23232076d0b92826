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

/** Longest source line an error shows whole; a longer one is cut to a window around the column. */
export const SHOWN_LINE_MAX = 160;
/** Longest message an error carries (names from the source can be long). */
const MESSAGE_MAX = 1000;

/**
 * Build the error result: the line of `source` at `pos` and a caret run under the span. A line
 * longer than SHOWN_LINE_MAX characters is shown as a window around the column, marked with `…`
 * at the cut ends (the column reported stays the real one).
 */
export function errorResult(source: string, name: string, message: string, pos: Pos | undefined, hint?: string): ErrorResult {
  const p = pos ?? { line: 1, col: 1, offset: 0, end: 0 };
  // The line around the offset, found without splitting the whole source (it may be megabytes).
  let at = Math.min(Math.max(0, p.offset - (p.col - 1)), source.length);
  if (at > 0 && source[at - 1] !== "\n") at = lineStart(source, p.line);
  const nl = source.indexOf("\n", at);
  // Control characters (a stray carriage return) shown as spaces: the caret line stays aligned.
  let sourceLine = source.slice(at, nl < 0 ? source.length : nl).replace(/\r$/, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, " ");
  const lineEnd = sourceLine.length + 1;
  let width = Math.max(1, Math.min(p.end - p.offset, lineEnd - p.col));
  let col = p.col;
  if (sourceLine.length > SHOWN_LINE_MAX) {
    const start = Math.max(0, Math.min(p.col - 1 - SHOWN_LINE_MAX / 2, sourceLine.length - SHOWN_LINE_MAX));
    const head = start > 0 ? "…" : "";
    const tail = start + SHOWN_LINE_MAX < sourceLine.length ? "…" : "";
    sourceLine = head + sourceLine.slice(start, start + SHOWN_LINE_MAX) + tail;
    col = p.col - start + head.length;
    width = Math.max(1, Math.min(width, sourceLine.length - tail.length - col + 1));
  }
  const caret = " ".repeat(Math.max(0, col - 1)) + "^".repeat(width);
  const text = message.length > MESSAGE_MAX ? message.slice(0, MESSAGE_MAX) + "…" : message;
  return { kind: "error", name, message: text, line: p.line, column: p.col, sourceLine, caret, ...(hint ? { hint } : {}) };
}

/** Offset of line `line` (1-based) of `source`, or its length when there are fewer lines. */
function lineStart(source: string, line: number): number {
  let at = 0;
  for (let l = 1; l < line; l++) {
    const nl = source.indexOf("\n", at);
    if (nl < 0) return source.length;
    at = nl + 1;
  }
  return at;
}
