// GNU as's repetition and macro directives for both assemblers (GNU as manual, "Macro", "Rept",
// "Irp", "Irpc"): `.rept N` ... `.endr`, `.irp sym, a, b` ... `.endr` (`\sym` is each value),
// `.irpc sym, chars` ... `.endr` (each character), `.macro name a, b=1, c:req, d:vararg` ... `.endm`
// with `\a` substitution, `\()` as a separator, `\@` the expansion count, `.exitm` and `.purgem`.
// Expansion happens in source order through a host, so a `.rept` count may use symbols assigned
// before it (as GNU as evaluates it when it reads the line).

import { AsmError } from "./errors.js";
import { pollInterrupt } from "./interrupt.js";
import type { Statement } from "./asm-source.js";

/** What an assembler provides to the expander. */
export interface MacroHost {
  /** Parse expanded source text into statements (in the assembler's dialect). */
  parse(text: string): Statement[];
  /** Value of a constant expression (a `.rept` count) at this point; throws an AsmError if it has none. */
  constant(text: string, st: Statement, column: number): bigint;
  /** Handle one statement that is not a macro directive, in source order. */
  statement(st: Statement): void;
}

interface Macro {
  params: { name: string; def: string; req: boolean; vararg: boolean }[];
  body: Statement[];
}

/** Bound on statements produced by expansion (keeps `.rept 100000000` from hanging). */
export const MAX_EXPANDED_STATEMENTS = 1_000_000;
const MAX_DEPTH = 64;

const BLOCK_OPEN = /^\.(rept|irp|irpc)\b/i;
const BLOCK_CLOSE = /^\.endr\b/i;

/** Split macro arguments GNU-style: at commas outside quotes and parentheses, or at blanks when there is no comma. */
export function splitMacroArgs(text: string): string[] {
  const pieces: string[] = [];
  let depth = 0;
  let inStr = false;
  let start = 0;
  let comma = false;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (inStr) {
      if (c === "\\") i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (i === text.length || (c === "," && depth === 0)) {
      if (c === ",") comma = true;
      pieces.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (!comma) return text.trim() ? text.trim().split(/\s+/) : [];
  return pieces;
}

/** Expands repetition blocks and macros, handing every other statement to the host. */
export class MacroExpander {
  private readonly macros = new Map<string, Macro>();
  private count = 0;
  private expanded = 0;
  private depth = 0;
  private exiting = false;

  constructor(private readonly host: MacroHost) {}

  /** Process a statement list in order. */
  run(list: Statement[]): void {
    for (let i = 0; i < list.length && !this.exiting; i++) {
      pollInterrupt("assembling");
      const st = list[i]!;
      const body = st.body;
      if (/^\.macro\b/i.test(body)) {
        this.labelsOnly(st);
        i = this.define(list, i);
        continue;
      }
      if (/^\.endm\b/i.test(body)) throw new AsmError(".endm without .macro", st.line, st.column);
      if (BLOCK_CLOSE.test(body)) throw new AsmError(".endr without .rept/.irp/.irpc", st.line, st.column);
      if (/^\.exitm\b/i.test(body)) {
        if (this.depth === 0) throw new AsmError(".exitm outside a macro", st.line, st.column);
        this.exiting = true;
        return;
      }
      const purge = /^\.purgem\s+([A-Za-z_.$][\w.$]*)\s*$/i.exec(body);
      if (purge) {
        if (!this.macros.delete(purge[1]!.toLowerCase())) throw new AsmError(`macro '${purge[1]}' is not defined`, st.line, st.column);
        continue;
      }
      const block = BLOCK_OPEN.exec(body);
      if (block) {
        this.labelsOnly(st);
        i = this.block(list, i, block[1]!.toLowerCase());
        continue;
      }
      const word = /^([A-Za-z_.$][\w.$]*)(?:\s+(.*))?$/.exec(body);
      const macro = word ? this.macros.get(word[1]!.toLowerCase()) : undefined;
      if (macro && word) {
        this.labelsOnly(st);
        this.invoke(macro, word[2] ?? "", st);
        continue;
      }
      this.host.statement(st);
    }
  }

  private labelsOnly(st: Statement): void {
    if (st.labels.length) this.host.statement({ ...st, body: "", text: st.text });
  }

  /** Index of the statement closing the block opened at `i` (nesting counted). */
  private close(list: Statement[], i: number, open: RegExp, closeRe: RegExp, what: string, hint: string): number {
    let depth = 1;
    for (let j = i + 1; j < list.length; j++) {
      const b = list[j]!.body;
      if (open.test(b)) depth++;
      else if (closeRe.test(b) && --depth === 0) return j;
    }
    const st = list[i]!;
    throw new AsmError(`${what}`, st.line, st.column, hint);
  }

  private grow(n: number, st: Statement): void {
    this.expanded += n;
    if (this.expanded > MAX_EXPANDED_STATEMENTS) throw new AsmError("repetitions and macros expand to too many statements", st.line, st.column, `at most ${MAX_EXPANDED_STATEMENTS} in total`);
  }

  private block(list: Statement[], i: number, kind: string): number {
    const st = list[i]!;
    const j = this.close(list, i, BLOCK_OPEN, BLOCK_CLOSE, `.${kind} without .endr`, "close the block with .endr");
    const body = list.slice(i + 1, j);
    const args = st.body.replace(/^\.\w+\s*/, "");
    const argCol = st.column + st.body.length - args.length;
    if (kind === "rept") {
      const n = this.host.constant(args, st, argCol);
      if (n > 0n) {
        if (n * BigInt(Math.max(1, body.length)) > BigInt(MAX_EXPANDED_STATEMENTS)) {
          throw new AsmError(`.rept ${n} repeats too many statements`, st.line, st.column, `at most ${MAX_EXPANDED_STATEMENTS} in total`);
        }
        for (let k = 0n; k < n; k++) {
          this.grow(body.length, st);
          this.run(body);
        }
      }
      return j;
    }
    const m = /^([A-Za-z_.$][\w.$]*)\s*(?:,\s*(.*))?$/.exec(args);
    if (!m) throw new AsmError(`.${kind} needs a symbol`, st.line, argCol, `.${kind} name, ${kind === "irp" ? "value1, value2, ..." : "characters"}`);
    const values = kind === "irp" ? splitMacroArgs(m[2] ?? "") : [...(m[2] ?? "").trim()];
    // GNU as: `.irp x` with no values runs the body once with \x empty
    for (const v of values.length ? values : [""]) {
      this.grow(body.length, st);
      this.run(this.substitute(body, new Map([[m[1]!, v]]), undefined));
    }
    return j;
  }

  private define(list: Statement[], i: number): number {
    const st = list[i]!;
    const m = /^\.macro\s+([A-Za-z_.$][\w.$]*)\s*,?\s*(.*)$/i.exec(st.body);
    if (!m) throw new AsmError(".macro needs a name", st.line, st.column, ".macro NAME arg1, arg2=default");
    const j = this.close(list, i, /^\.macro\b/i, /^\.endm\b/i, ".macro without .endm", "close the macro with .endm");
    const params = splitMacroArgs(m[2]!.replace(/\s*=\s*/g, "=")).filter(Boolean).map((p) => {
      const eq = p.indexOf("=");
      let name = eq < 0 ? p : p.slice(0, eq);
      const def = eq < 0 ? "" : p.slice(eq + 1);
      const q = /:(req|vararg)$/.exec(name);
      if (q) name = name.slice(0, q.index);
      if (!/^[A-Za-z_][\w]*$/.test(name)) throw new AsmError(`bad macro parameter '${p}'`, st.line, st.column, "parameters are names, with =default, :req or :vararg");
      return { name, def, req: q?.[1] === "req", vararg: q?.[1] === "vararg" };
    });
    this.macros.set(m[1]!.toLowerCase(), { params, body: list.slice(i + 1, j) });
    return j;
  }

  private invoke(macro: Macro, argText: string, at: Statement): void {
    if (this.depth >= MAX_DEPTH) throw new AsmError("macros nest too deeply (recursive macro?)", at.line, at.column);
    this.grow(macro.body.length, at);
    const args = splitMacroArgs(argText);
    const values = new Map<string, string>();
    let positional = 0;
    for (let k = 0; k < args.length; k++) {
      const a = args[k]!;
      const kw = /^([A-Za-z_]\w*)\s*=(.*)$/.exec(a);
      const named = kw ? macro.params.find((p) => p.name === kw[1]) : undefined;
      if (named && kw) {
        values.set(named.name, kw[2]!.trim());
        continue;
      }
      const p = macro.params[positional++];
      if (!p) throw new AsmError(`too many arguments to macro (${args.length} for ${macro.params.length})`, at.line, at.column);
      if (p.vararg) {
        values.set(p.name, args.slice(k).join(", "));
        break;
      }
      values.set(p.name, a);
    }
    for (const p of macro.params) {
      if (!values.has(p.name) || values.get(p.name) === "") {
        if (p.req && !values.get(p.name)) throw new AsmError(`missing value for required macro parameter '${p.name}'`, at.line, at.column);
        if (!values.get(p.name)) values.set(p.name, p.def);
      }
    }
    const n = String(this.count++);
    this.depth++;
    try {
      this.run(this.substitute(macro.body, values, n));
    } finally {
      this.depth--;
      this.exiting = false;
    }
  }

  /** Body statements with `\name`, `\()` and `\@` replaced, re-parsed, keeping their source lines. */
  private substitute(body: Statement[], values: Map<string, string>, count: string | undefined): Statement[] {
    const out: Statement[] = [];
    for (const b of body) {
      const text = b.text.replace(/\\(\(\)|@|[A-Za-z_]\w*)/g, (all, name: string) => {
        if (name === "()") return "";
        if (name === "@") return count ?? all;
        return values.get(name) ?? all;
      });
      for (const e of this.host.parse(text)) out.push({ ...e, line: b.line, column: b.column + e.column - 1 });
    }
    return out;
  }
}
