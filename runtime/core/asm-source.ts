// GNU as source text → statements, for both assemblers: comments removed with columns preserved,
// `;` statement separators, labels (`name:`, numeric `1:`) split off, and the rest of the
// statement with its column; C-style string literals. What differs between the x86 and A64
// dialects (where `#` starts a comment, 'c' constants, what may follow a label's colon) is a
// parameter.

import { AsmError } from "./errors.js";

export interface AsmDialect {
  /** `#` starts a comment anywhere (x86), or only as a line's first non-blank character (A64, where `#` prefixes immediates). */
  hashComment: "anywhere" | "line-start";
  /** 'c' character constants are kept verbatim, so a quote or comment character inside them is not special (x86). */
  charConstants: boolean;
  /** A label at the start of a statement: group 1 is its name. */
  label: RegExp;
}

export interface Statement {
  line: number;
  /** 1-based column of `body`. */
  column: number;
  labels: { name: string; column: number }[];
  /** Directive, assignment or instruction text (may be empty). */
  body: string;
  /** The statement as written (for listings). */
  text: string;
}

/** Replace comments by spaces, keeping line and column positions; strings and 'c' constants are kept. */
function stripComments(source: string, dialect: AsmDialect): string[] {
  const out: string[] = [];
  let cur = "";
  let inBlock = false;
  let blockLine = 0;
  const lines = source.split(/\r?\n/);
  lines.forEach((text, li) => {
    cur = "";
    let inStr = false;
    if (dialect.hashComment === "line-start" && !inBlock && /^\s*#/.test(text)) {
      out.push("");
      return;
    }
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (inBlock) {
        if (c === "*" && text[i + 1] === "/") (inBlock = false), (cur += "  "), i++;
        else cur += " ";
        continue;
      }
      if (inStr) {
        cur += c;
        if (c === "\\" && i + 1 < text.length) cur += text[++i];
        else if (c === '"') inStr = false;
        continue;
      }
      if (c === '"') (inStr = true), (cur += c);
      else if (dialect.charConstants && c === "'" && i + 1 < text.length) {
        // character constant: keep the quote and the (possibly escaped) character verbatim
        cur += c + text[i + 1];
        i++;
        if (text[i] === "\\" && i + 1 < text.length) cur += text[++i];
      } else if (c === "/" && text[i + 1] === "*") (inBlock = true), (blockLine = li + 1), (cur += "  "), i++;
      else if ((c === "#" && dialect.hashComment === "anywhere") || (c === "/" && text[i + 1] === "/")) break;
      else cur += c;
    }
    out.push(cur);
  });
  if (inBlock) throw new AsmError("unterminated /* comment", blockLine, 1, "close it with */");
  return out;
}

/** Split a line at `;` outside strings; returns [text, startIndex]. */
function splitStatements(text: string): [string, number][] {
  const out: [string, number][] = [];
  let start = 0;
  let inStr = false;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '"' && text[i - 1] !== "\\") inStr = !inStr;
    if (i === text.length || (c === ";" && !inStr)) {
      out.push([text.slice(start, i), start]);
      start = i + 1;
    }
  }
  return out;
}

export function parseStatements(source: string, dialect: AsmDialect): Statement[] {
  const out: Statement[] = [];
  stripComments(source, dialect).forEach((lineText, li) => {
    for (const [stmt, start] of splitStatements(lineText)) {
      let rest = stmt;
      let offset = start;
      const labels: { name: string; column: number }[] = [];
      for (;;) {
        const lead = rest.length - rest.trimStart().length;
        const m = dialect.label.exec(rest.slice(lead));
        if (!m) break;
        labels.push({ name: m[1]!, column: offset + lead + 1 });
        rest = rest.slice(lead + m[0].length);
        offset += lead + m[0].length;
      }
      const lead = rest.length - rest.trimStart().length;
      const body = rest.trim();
      if (!body && labels.length === 0) continue;
      out.push({ line: li + 1, column: offset + lead + 1, labels, body, text: stmt.trim() });
    }
  });
  return out;
}

/** Parse a C-style string literal body starting at `text[0] === '"'`; returns bytes and the rest. */
export function parseString(text: string, line: number, column: number): { bytes: number[]; rest: string } {
  if (text[0] !== '"') throw new AsmError("expected a string in double quotes", line, column);
  const bytes: number[] = [];
  let i = 1;
  for (;;) {
    if (i >= text.length) throw new AsmError("unterminated string", line, column, 'close it with "');
    const c = text[i]!;
    if (c === '"') break;
    if (c === "\\") {
      const n = text[i + 1] ?? "";
      const simple: Record<string, number> = { n: 10, t: 9, r: 13, b: 8, f: 12, v: 11, a: 7, "\\": 92, '"': 34, "'": 39 };
      if (simple[n] !== undefined) (bytes.push(simple[n]!), (i += 2));
      else if (n === "x") {
        const m = /^[0-9a-fA-F]{1,2}/.exec(text.slice(i + 2));
        if (!m) throw new AsmError("bad \\x escape", line, column + i);
        bytes.push(parseInt(m[0], 16));
        i += 2 + m[0].length;
      } else if (/[0-7]/.test(n)) {
        const m = /^[0-7]{1,3}/.exec(text.slice(i + 1))!;
        bytes.push(parseInt(m[0], 8) & 0xff);
        i += 1 + m[0].length;
      } else (bytes.push(n.charCodeAt(0) & 0xff), (i += 2));
      continue;
    }
    const code = c.charCodeAt(0);
    if (code < 0x80) bytes.push(code);
    else for (const b of Buffer.from(c, "utf8")) bytes.push(b);
    i++;
  }
  return { bytes, rest: text.slice(i + 1) };
}
