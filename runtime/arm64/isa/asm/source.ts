// A64 GNU as source → statements: `//` and `/* */` comments removed with columns kept (`#` is
// the immediate prefix in A64, so it starts a comment only as a line's first character, as for
// cpp lines), `;` separates statements, labels (`name:`, numeric `1:`) split off.

import { AsmError } from "../../../core/errors.js";

export interface Statement {
  line: number;
  /** 1-based column of `body`. */
  column: number;
  labels: { name: string; column: number }[];
  body: string;
  text: string;
}

function stripComments(source: string): string[] {
  const out: string[] = [];
  let inBlock = false;
  let blockLine = 0;
  source.split(/\r?\n/).forEach((text, li) => {
    let cur = "";
    let inStr = false;
    if (!inBlock && /^\s*#/.test(text)) { out.push(""); return; }
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
      else if (c === "/" && text[i + 1] === "*") (inBlock = true), (blockLine = li + 1), (cur += "  "), i++;
      else if (c === "/" && text[i + 1] === "/") break;
      else cur += c;
    }
    out.push(cur);
  });
  if (inBlock) throw new AsmError("unterminated /* comment", blockLine, 1, "close it with */");
  return out;
}

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

const LABEL = /^([A-Za-z_.$][\w.$]*|\d+)\s*:(?![:=])/;

export function parseStatements(source: string): Statement[] {
  const out: Statement[] = [];
  stripComments(source).forEach((lineText, li) => {
    for (const [stmt, start] of splitStatements(lineText)) {
      let rest = stmt;
      let offset = start;
      const labels: { name: string; column: number }[] = [];
      for (;;) {
        const lead = rest.length - rest.trimStart().length;
        const m = LABEL.exec(rest.slice(lead));
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
