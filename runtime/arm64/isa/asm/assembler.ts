// The A64 assembler: GNU as syntax for what a small boot guest needs. Two passes over the
// statements: pass 1 lays out addresses (every instruction is 4 bytes, so no relaxation) and
// defines labels; pass 2 matches each instruction against the syntax templates of the table
// entries with its mnemonic (in table order, as GNU as prefers: movz before movn before orr)
// and encodes the first that fits. `ldr Rt, =expr` loads go to a literal pool placed at
// `.ltorg`/`.pool` or at the end.

import { AsmError } from "../../../core/errors.js";
import { pollInterrupt } from "../../../core/interrupt.js";
import { maskOf } from "../../../core/bits.js";
import { parseExpr, evalExpr, firstUndefined, type Expr } from "../../../core/asm-expr.js";
import { parseString } from "../../../core/asm-source.js";
import { A64_TABLE, type CompiledSpec } from "../table/index.js";
import { matchNodes, type MatchContext } from "../syntax.js";
import { COND_NAMES, COND_SYNONYMS } from "../alu.js";
import { A64BuildError, type A64Ops } from "../types.js";
import { ByteBuffer } from "../../../core/byte-buffer.js";
import { parseStatements, type Statement } from "./source.js";
import { MacroExpander } from "../../../core/asm-macro.js";

export interface A64Program {
  base: bigint;
  bytes: Uint8Array;
  symbols: Map<string, bigint>;
  lines: { address: bigint; line: number; text: string }[];
}

export interface A64AsmOptions {
  base?: bigint;
  fileName?: string;
}

const MAX_IMAGE = 64 * 1024 * 1024;
const DOTLESS_COND = new RegExp(`^b(${[...COND_NAMES, ...Object.keys(COND_SYNONYMS)].join("|")})$`);
const NOP = 0xd503201f;

const byKey = new Map<string, CompiledSpec[]>();
for (const s of A64_TABLE) {
  const list = byKey.get(s.key) ?? [];
  list.push(s);
  byKey.set(s.key, list);
}

const DIRECTIVES = [".text", ".data", ".bss", ".rodata", ".section", ".global", ".globl", ".type", ".size", ".local", ".weak", ".extern", ".align", ".balign", ".p2align",
  ".word", ".long", ".4byte", ".int", ".quad", ".8byte", ".xword", ".dword", ".hword", ".short", ".2byte", ".byte", ".ascii", ".asciz", ".string", ".space", ".skip", ".zero",
  ".equ", ".set", ".ltorg", ".pool", ".inst", ".end", ".arch", ".cpu", ".file", ".ident", ".previous", ".pushsection", ".popsection"];

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}
function suggest(word: string, names: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const n of names) {
    const dd = editDistance(word, n);
    if (dd < bestD) (bestD = dd), (best = n);
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 2)) ? best : undefined;
}

/** Split at top-level commas (outside strings, brackets, parentheses); returns [text, offset]. */
function splitArgs(text: string): [string, number][] {
  const out: [string, number][] = [];
  let depth = 0;
  let inStr = false;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (inStr) { if (c === "\\") i++; else if (c === '"') inStr = false; continue; }
    if (c === '"') inStr = true;
    else if (c === "(" || c === "[") depth++;
    else if (c === ")" || c === "]") depth--;
    else if (i === text.length || (c === "," && depth === 0)) {
      const raw = text.slice(start, i);
      const lead = raw.length - raw.trimStart().length;
      out.push([raw.trim(), start + lead]);
      start = i + 1;
    }
  }
  return out.filter(([t], _i, all) => t !== "" || all.length > 1);
}

interface PoolEntry { label: string; expr: Expr; size: 4 | 8; line: number; column: number }

class Assembler {
  readonly symbols = new Map<string, bigint>();
  private readonly equs = new Map<string, { expr: Expr; line: number }>();
  /** Numeric local labels: N → addresses of its definitions, in order; per statement, which. */
  private readonly localDefs = new Map<string, { stmt: number; addr: bigint }[]>();
  private stmtIndex = 0;
  private dot = 0n;
  /** The image (pass 2 only; pass 1 only counts addresses). */
  private out = new ByteBuffer();
  private size = 0;
  private pass = 1;
  private pool: PoolEntry[] = [];
  /** Literal pool sizes, most recently created first (see flushPool). */
  private poolSizes: (4 | 8)[] = [];
  private poolCount = 0;
  /** `ldr =` statements → their pool label (fixed in pass 1). */
  private readonly poolOf = new Map<number, string>();
  private section = ".text";
  readonly lines: A64Program["lines"] = [];
  private evaluating = new Set<string>();

  constructor(private readonly base: bigint, private readonly stmts: Statement[]) {}

  run(): A64Program {
    this.layout(1);
    this.layout(2);
    return { base: this.base, bytes: this.out.bytes(), symbols: this.symbols, lines: this.lines };
  }

  private layout(pass: number): void {
    this.pass = pass;
    this.dot = this.base;
    this.out = new ByteBuffer();
    this.size = 0;
    this.pool = [];
    this.poolSizes = [];
    this.poolCount = 0;
    this.section = ".text";
    this.stmts.forEach((s, i) => {
      pollInterrupt("assembling");
      this.stmtIndex = i;
      for (const l of s.labels) this.defineLabel(l.name, s.line, l.column, i);
      if (s.body) this.statement(s, i);
    });
    this.flushPool();
  }

  private defineLabel(name: string, line: number, column: number, stmt: number): void {
    if (/^\d+$/.test(name)) {
      const defs = this.localDefs.get(name) ?? [];
      if (this.pass === 1) defs.push({ stmt, addr: this.dot });
      else { const d = defs.find((x) => x.stmt === stmt && x.addr === this.dot) ?? defs.find((x) => x.stmt === stmt); if (d) d.addr = this.dot; }
      this.localDefs.set(name, defs);
      return;
    }
    if (this.pass === 1 && (this.symbols.has(name) || this.equs.has(name))) throw new AsmError(`symbol '${name}' is already defined`, line, column, "rename one of the labels");
    this.symbols.set(name, this.dot);
  }

  private lookup = (name: string): bigint | undefined => {
    const local = /^(\d+)([bf])$/.exec(name);
    if (local) {
      const defs = this.localDefs.get(local[1]!) ?? [];
      if (local[2] === "b") {
        for (let k = defs.length - 1; k >= 0; k--) if (defs[k]!.stmt <= this.stmtIndex) return defs[k]!.addr;
        return undefined;
      }
      return defs.find((d) => d.stmt > this.stmtIndex)?.addr;
    }
    const v = this.symbols.get(name);
    if (v !== undefined) return v;
    const e = this.equs.get(name);
    if (!e || this.evaluating.has(name)) return undefined;
    this.evaluating.add(name);
    try {
      return evalExpr(e.expr, { lookup: this.lookup, dot: this.dot });
    } finally {
      this.evaluating.delete(name);
    }
  };

  /** Evaluate an expression; in pass 1 undefined symbols are allowed only when `lenient`. */
  private value(text: string, line: number, column: number, lenient: boolean): bigint | undefined {
    const e = parseExpr(text, line, column);
    const v = evalExpr(e, { lookup: this.lookup, dot: this.dot });
    if (v === undefined && !(lenient && this.pass === 1)) {
      const u = firstUndefined(e, { lookup: this.lookup, dot: this.dot });
      const hint = u && /^\d+[bf]$/.test(u.name) ? `no label ${u.name.slice(0, -1)}: ${u.name.endsWith("b") ? "before" : "after"} this line` : "define it as a label or with .equ";
      throw new AsmError(`undefined symbol '${u?.name ?? text}'`, line, u?.column ?? column, hint);
    }
    return v;
  }

  /** Account for `count` bytes at dot (bounded image size, listing line); returns whether to store them (pass 2). */
  private advance(count: number, s: Statement): boolean {
    if (this.size + count > MAX_IMAGE) throw new AsmError("image larger than 64 MiB", s.line, s.column, "check .space/.align values");
    if (this.pass === 2 && count) this.lines.push({ address: this.dot, line: s.line, text: s.text });
    this.size += count;
    this.dot += BigInt(count);
    return this.pass === 2;
  }

  private emit(bytes: number[], s: Statement): void {
    if (this.advance(bytes.length, s)) this.out.push(bytes);
  }

  private emitFill(count: number, value: number, s: Statement): void {
    if (this.advance(count, s)) this.out.fill(count, value);
  }

  private emitWord(word: number, s: Statement): void {
    if (this.advance(4, s)) this.out.pushWord(word);
  }

  private align(n: bigint, s: Statement, fill?: number): void {
    if (n <= 0n) return;
    const pad = Number((n - (this.dot % n)) % n);
    if (pad > MAX_IMAGE) throw new AsmError("alignment too large", s.line, s.column);
    const bytes: number[] = [];
    const code = this.section === ".text" && fill === undefined;
    for (let i = 0; i < pad; i++) {
      const at = this.dot + BigInt(i);
      if (code && at % 4n === 0n && pad - i >= 4) {
        bytes.push(NOP & 0xff, (NOP >>> 8) & 0xff, (NOP >>> 16) & 0xff, NOP >>> 24);
        i += 3;
      } else bytes.push(fill ?? 0);
    }
    this.emit(bytes, s);
  }

  /**
   * Place the pending literals. GNU as (gas/config/tc-aarch64.c) keeps one pool per entry size,
   * each created on first use and pushed at the head of its list, and emits the pools in list
   * order: so the size first used last comes first. Identical literals share one slot.
   */
  private flushPool(): void {
    if (!this.pool.length) return;
    const fake: Statement = { line: this.pool[0]!.line, column: 1, labels: [], body: "", text: ".ltorg" };
    for (const size of this.poolSizes) {
      const placed = new Map<string, bigint>();
      for (const p of this.pool) {
        if (p.size !== size) continue;
        const key = JSON.stringify(p.expr, (_k, v) => (typeof v === "bigint" ? v.toString() : v)).replace(/"column":\d+/g, "");
        const same = placed.get(key);
        if (same !== undefined) {
          if (this.pass === 1) this.symbols.set(p.label, same);
          continue;
        }
        this.align(BigInt(p.size), fake, 0);
        placed.set(key, this.dot);
        if (this.pass === 1) this.symbols.set(p.label, this.dot);
        const v = this.pass === 2 ? evalExpr(p.expr, { lookup: this.lookup, dot: this.dot }) : 0n;
        if (v === undefined) {
          const u = firstUndefined(p.expr, { lookup: this.lookup, dot: this.dot });
          throw new AsmError(`undefined symbol '${u?.name}'`, p.line, u?.column ?? p.column, "define it as a label or with .equ");
        }
        const bytes: number[] = [];
        for (let i = 0; i < p.size; i++) bytes.push(Number((v >> BigInt(8 * i)) & 0xffn));
        this.emit(bytes, { ...fake, text: `.${p.size === 8 ? "quad" : "word"} (literal)` });
      }
    }
    this.pool = [];
  }

  private statement(s: Statement, index: number): void {
    const body = s.body;
    const assign = /^([A-Za-z_.$][\w.$]*)\s*=(?!=)\s*(.*)$/s.exec(body);
    if (assign) return this.equ(assign[1]!, assign[2]!, s, s.column + body.indexOf("=") + 1);
    const m = /^(\S+)\s*(.*)$/s.exec(body)!;
    const word = m[1]!.toLowerCase();
    const rest = m[2]!;
    const restCol = s.column + body.length - rest.length;
    if (word.startsWith(".")) return this.directive(word, rest, restCol, s);
    this.instruction(word, m[1]!, rest, restCol, s, index);
  }

  private equ(name: string, exprText: string, s: Statement, col: number): void {
    if (!exprText.trim()) throw new AsmError(`missing value for ${name}`, s.line, col, `write ${name} = <expression>`);
    if (this.pass === 1 && this.symbols.has(name)) throw new AsmError(`symbol '${name}' is already defined`, s.line, s.column);
    const expr = parseExpr(exprText, s.line, col);
    // GNU .set is sequential: capture the value now when it is known
    const v = evalExpr(expr, { lookup: this.lookup, dot: this.dot });
    this.equs.set(name, { expr: v === undefined ? expr : { kind: "num", value: v }, line: s.line });
  }

  private directive(word: string, rest: string, col: number, s: Statement): void {
    const args = splitArgs(rest);
    const need = (k: number) => {
      if (args.length < k || !args[k - 1]![0]) throw new AsmError(`${word} needs ${k} argument${k > 1 ? "s" : ""}`, s.line, col);
    };
    const val = (k: number, lenient = false) => this.value(args[k]![0], s.line, col + args[k]![1], lenient);
    switch (word) {
      case ".text": case ".data": case ".bss": case ".rodata": this.section = word; return;
      case ".section": case ".pushsection": this.section = /text/.test(rest) ? ".text" : ".data"; return;
      case ".previous": case ".popsection": return;
      case ".global": case ".globl": case ".type": case ".size": case ".local": case ".weak": case ".extern": case ".arch": case ".cpu": case ".file": case ".ident": return;
      case ".align": case ".p2align": {
        need(1);
        const n = val(0)!;
        if (n < 0n || n > 16n) throw new AsmError(`alignment 2^${n} is out of range`, s.line, col, "give a power of two exponent 0..16");
        return this.align(1n << n, s, args[1] ? Number(val(1)! & 0xffn) : undefined);
      }
      case ".balign": {
        need(1);
        const n = val(0)!;
        if (n <= 0n || (n & (n - 1n)) !== 0n || n > 65536n) throw new AsmError(`alignment ${n} is not a power of two`, s.line, col);
        return this.align(n, s, args[1] ? Number(val(1)! & 0xffn) : undefined);
      }
      case ".word": case ".long": case ".4byte": case ".int": case ".inst": return this.data(args, 4, s, col);
      case ".quad": case ".8byte": case ".xword": case ".dword": return this.data(args, 8, s, col);
      case ".hword": case ".short": case ".2byte": return this.data(args, 2, s, col);
      case ".byte": return this.data(args, 1, s, col);
      case ".ascii": case ".asciz": case ".string": {
        const bytes: number[] = [];
        for (const [t, off] of args) {
          const r = parseString(t, s.line, col + off);
          if (r.rest.trim()) throw new AsmError("unexpected text after string", s.line, col + off + t.length - r.rest.length);
          for (const b of r.bytes) bytes.push(b);
          if (word !== ".ascii") bytes.push(0);
        }
        return this.emit(bytes, s);
      }
      case ".space": case ".skip": case ".zero": {
        need(1);
        const n = val(0)!;
        if (n < 0n || n > BigInt(MAX_IMAGE)) throw new AsmError(`${word} size ${n} is out of range`, s.line, col);
        const fill = word !== ".zero" && args[1] ? Number(val(1)! & 0xffn) : 0;
        return this.emitFill(Number(n), fill, s);
      }
      case ".equ": case ".set": {
        need(2);
        const name = args[0]![0];
        if (!/^[A-Za-z_.$][\w.$]*$/.test(name)) throw new AsmError(`bad symbol name '${name}'`, s.line, col);
        return this.equ(name, args[1]![0], s, col + args[1]![1]);
      }
      case ".ltorg": case ".pool": return this.flushPool();
      case ".end": return;
      default: {
        const near = suggest(word, DIRECTIVES);
        throw new AsmError(`unknown directive ${word}`, s.line, s.column, near ? `did you mean ${near}?` : "supported: " + DIRECTIVES.join(" "));
      }
    }
  }

  private data(args: [string, number][], size: number, s: Statement, col: number): void {
    const bytes: number[] = [];
    for (const [t, off] of args) {
      if (!t) throw new AsmError("missing value", s.line, col + off);
      const v = this.value(t, s.line, col + off, true) ?? 0n;
      const lim = 1n << BigInt(size * 8);
      if (v >= lim || v < -lim / 2n) throw new AsmError(`value ${v} does not fit in ${size} byte${size > 1 ? "s" : ""}`, s.line, col + off);
      for (let i = 0; i < size; i++) bytes.push(Number((v >> BigInt(8 * i)) & 0xffn));
    }
    this.emit(bytes, s);
  }

  private instruction(word: string, rawWord: string, rest: string, col: number, s: Statement, index: number): void {
    const key = word.split(".")[0]!;
    // `bne`: the conditional branch without its dot (table entry B_cond_nodot)
    const candidates = byKey.get(key) ?? (DOTLESS_COND.test(key) ? byKey.get("b") : undefined);
    if (!candidates) {
      const near = suggest(key, byKey.keys());
      throw new AsmError(`unknown instruction '${rawWord}'`, s.line, s.column, near ? `did you mean ${near}?` : "see the A64 table for supported instructions");
    }
    // `ldr Rt, =expr`: a literal in the pool
    const lit = /^(.*?,\s*)=(.*)$/s.exec(rest);
    let text = rest;
    if (lit && (key === "ldr" || key === "ldrsw")) {
      let label = this.poolOf.get(index);
      if (this.pass === 1) {
        label = `.Lpool$${this.poolCount}`;
        this.poolOf.set(index, label);
      }
      this.poolCount++;
      const regX = /^\s*x/i.test(lit[1]!) || key === "ldrsw" ? (key === "ldrsw" ? 4 : 8) : 4;
      const exprCol = col + lit[1]!.length + 1;
      if (!this.poolSizes.includes(regX as 4 | 8)) this.poolSizes.unshift(regX as 4 | 8);
      this.pool.push({ label: label!, expr: parseExpr(lit[2]!, s.line, exprCol), size: regX as 4 | 8, line: s.line, column: exprCol });
      text = lit[1]! + label!;
    }
    if (this.pass === 1) return this.emit([0, 0, 0, 0], s);
    const pc = this.dot;
    const ctx: MatchContext = {
      spec: candidates[0]!,
      evaluate: (t, c) => this.value(t, s.line, c, false)!,
      fail: { pos: -1, msg: "" },
    };
    let buildErr: { err: A64BuildError; spec: CompiledSpec } | undefined;
    for (const spec of candidates) {
      ctx.spec = spec;
      let ops: A64Ops | undefined;
      const mnOk = matchNodes(spec.parsed.mnemonic, 0, word, 0, {}, { ...ctx, fail: { pos: -1, msg: "" } }, s.column, (p, o) => {
        if (p !== word.length) return false;
        return matchNodes(spec.parsed.operands, 0, text, 0, o, ctx, col, (q, o2) => {
          if (text.slice(q).trim() !== "") {
            if (q >= ctx.fail.pos) ctx.fail = { pos: q, msg: `unexpected '${text.slice(q).trim()}'` };
            return false;
          }
          ops = o2;
          return true;
        });
      });
      if (!mnOk || !ops) continue;
      try {
        const fields = spec.build ? spec.build(ops, pc) : defaultBuild(spec, ops);
        const w = encode(spec, fields);
        this.emitWord(w, s);
        return;
      } catch (e) {
        if (e instanceof A64BuildError) { buildErr = { err: e, spec }; continue; } // the last form's reason is the most general
        throw e;
      }
    }
    if (buildErr) throw new AsmError(buildErr.err.message, s.line, col, buildErr.err.hint);
    const f = ctx.fail;
    if (f.error) {
      if (f.error instanceof AsmError) throw f.error;
      throw new AsmError(f.error.message, s.line, col + Math.floor(f.pos));
    }
    if (f.pos < 0) throw new AsmError(`unknown instruction '${rawWord}'`, s.line, s.column, `forms: ${candidates.filter((c) => !c.asmOnly).map((c) => c.syntax).slice(0, 6).join(" | ")}`);
    throw new AsmError(`${f.msg} in '${word}'`, s.line, col + Math.floor(f.pos), f.hint ?? `forms: ${[...new Set(candidates.filter((c) => !c.asmOnly).map((c) => c.syntax))].slice(0, 6).join(" | ")}`);
  }
}

/** Fields = operand values of the same names, range-checked. */
function defaultBuild(spec: CompiledSpec, ops: A64Ops): Record<string, number> {
  const f: Record<string, number> = {};
  for (const d of spec.ownFields) {
    const v = ops[d.name] ?? (d.name === "sf" ? 1n : 0n);
    if (v < 0n || v > maskOf(d.width)) throw new A64BuildError(`${d.name} value ${v} is out of range`, `it must be 0..${maskOf(d.width)}`);
    f[d.name] = Number(v);
  }
  return f;
}

function encode(spec: CompiledSpec, fields: Record<string, number>): number {
  let w = spec.asmValue;
  for (const d of spec.ownFields) {
    const v = fields[d.name] ?? 0;
    const m = d.width >= 32 ? 0xffffffff : (1 << d.width) - 1;
    if (v < 0 || v > m) throw new A64BuildError(`${d.name} value ${v} does not fit ${d.width} bits`);
    w |= (v & m) << d.lsb;
  }
  w >>>= 0;
  if (spec.encodable) {
    // the chosen entry must decode back to itself (e.g. reserved field combinations)
    const f: Record<string, number> = {};
    for (const d of spec.fields) f[d.name] = (w >>> d.lsb) & (d.width >= 32 ? 0xffffffff : (1 << d.width) - 1);
    if (!spec.encodable(f)) throw new A64BuildError(`operands not encodable by ${spec.syntax.split(" ")[0]}`);
  }
  return w;
}

/**
 * Expand `.rept`/`.irp`/`.irpc`/`.macro` (runtime/core/asm-macro.ts) before the two passes; a
 * `.rept` count may use symbols assigned (`.equ`, `.set`, `=`) earlier with constant values.
 */
function expand(source: string): Statement[] {
  const out: Statement[] = [];
  const known = new Map<string, bigint>();
  const lookup = (n: string) => known.get(n);
  new MacroExpander({
    parse: parseStatements,
    constant: (text, st, col) => {
      const e = parseExpr(text, st.line, col);
      const v = evalExpr(e, { lookup, dot: 0n });
      if (v === undefined) {
        const u = firstUndefined(e, { lookup, dot: 0n });
        throw new AsmError(`.rept count uses '${u?.name ?? text}', which has no constant value here`, st.line, u?.column ?? col, "use numbers and symbols assigned earlier with .equ/.set/=");
      }
      return v;
    },
    statement: (st) => {
      out.push(st);
      const a = /^([A-Za-z_.$][\w.$]*)\s*=(?!=)\s*(.*)$/.exec(st.body) ?? /^\.(?:equ|set)\s+([A-Za-z_.$][\w.$]*)\s*,\s*(.*)$/i.exec(st.body);
      if (!a) return;
      try {
        const v = evalExpr(parseExpr(a[2]!, st.line, st.column), { lookup, dot: 0n });
        if (v === undefined) known.delete(a[1]!);
        else known.set(a[1]!, v);
      } catch {
        known.delete(a[1]!); // the assembler reports the bad expression in its own pass
      }
    },
  }).run(parseStatements(source));
  return out;
}

export function assembleA64(source: string, options: A64AsmOptions = {}): A64Program {
  try {
    const stmts = expand(source);
    return new Assembler(options.base ?? 0n, stmts).run();
  } catch (e) {
    if (e instanceof AsmError && options.fileName && !e.message.startsWith(options.fileName)) {
      const err = new AsmError(e.message.replace(/^line \d+, column \d+: /, ""), e.line, e.column, e.hint);
      err.message = `${options.fileName}:${e.line}:${e.column}: ${e.message.replace(/^line \d+, column \d+: /, "")}`;
      throw err;
    }
    throw e;
  }
}
