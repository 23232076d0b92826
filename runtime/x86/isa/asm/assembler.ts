// A GNU-as-compatible (AT&T syntax) x86 assembler for exitlab's guests: statements are parsed once
// into items (fixed encodings with fixups, relaxable jumps, alignment, data), laid out repeatedly
// until addresses settle, then patched. Jumps start short and only ever grow to near, which is the
// relaxation GNU as does, so both pick the same sizes. One flat image: everything is placed in
// source order; section directives only decide whether .align pads with NOPs (code) or zeros.

import { AsmError } from "../../../core/errors.js";
import { pollInterrupt } from "../../../core/interrupt.js";
import { encodeInstruction, fits, isMnemonic, knownMnemonics, writeLE, type Bits, type Encoding, type Fixup } from "./encode.js";
import { evalExpr, firstUndefined, mentionsDot, parseExpr, renameSymbols, symbolsOf, type Expr } from "../../../core/asm-expr.js";
import { nearest, parseOperand, splitOperands } from "./operands.js";
import { parseStatements, parseString, type Statement } from "./source.js";
import { MacroExpander } from "../../../core/asm-macro.js";

export interface X86Program {
  base: bigint;
  bytes: Uint8Array;
  symbols: Map<string, bigint>;
  lines: { address: bigint; line: number; text: string }[];
}

export interface AssembleOptions {
  base?: bigint;
  bits?: 16 | 32 | 64;
  fileName?: string;
}

type ItemBody = (
  | { kind: "bytes"; bytes: number[]; fixups: Fixup[] }
  | { kind: "relax"; short: Encoding; near: Encoding; isNear: boolean; target: Expr; column: number }
  | { kind: "align"; align: Expr; fill: number | null; max: Expr | null; column: number; pow2: boolean; code: boolean }
  | { kind: "space"; count: Expr; size: number; fill: Expr | null; column: number }
  | { kind: "org"; target: Expr; fill: number; column: number }
  | { kind: "label"; name: string; column: number }
  | { kind: "set"; name: string; expr: Expr; column: number }
);
/** `bits`: the code size (.code16/32/64) in force where the item was written. */
type Item = { line: number; text: string; address: bigint; listed: boolean; bits: Bits } & ItemBody;

const PREFIXES: Record<string, number> = { rep: 0xf3, repe: 0xf3, repz: 0xf3, repne: 0xf2, repnz: 0xf2, lock: 0xf0 };
/**
 * Address-size prefix words (GNU as; objdump prints them where the operands do not show the
 * address size): the size they select with a 67h prefix (SDM Vol. 2 §2.1.1, Table 3-3).
 */
const ADDR_PREFIXES: Record<string, 2 | 4> = { addr16: 2, addr32: 4 };
const DATA_SIZES: Record<string, number> = {
  ".byte": 1, ".word": 2, ".short": 2, ".value": 2, ".hword": 2, ".2byte": 2, ".long": 4, ".int": 4, ".4byte": 4, ".quad": 8, ".8byte": 8,
};
const IGNORED = new Set([
  ".globl", ".global", ".local", ".weak", ".hidden", ".type", ".size", ".file", ".ident", ".previous", ".pushsection",
  ".popsection", ".loc", ".att_syntax", ".end", ".list", ".nolist",
]);
/** Section switches: kept in source order in the flat image, but they decide how .align pads. */
const SECTIONS = new Set([".text", ".data", ".bss", ".section"]);

/**
 * The NOPs GNU as 2.40 (x86-64 target, generic tuning) pads code alignment with, by length
 * (binutils gas/config/tc-i386.c alt_patt); longer gaps are filled with 11-byte NOPs first.
 */
const NOP_PATTERNS: number[][] = [
  [],
  [0x90],
  [0x66, 0x90],
  [0x0f, 0x1f, 0x00],
  [0x0f, 0x1f, 0x40, 0x00],
  [0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00],
  [0x0f, 0x1f, 0x80, 0x00, 0x00, 0x00, 0x00],
  [0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
  [0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

function fillNops(out: Uint8Array, at: number, n: number): void {
  while (n > 0) {
    const k = Math.min(n, 11);
    out.set(NOP_PATTERNS[k]!, at);
    at += k;
    n -= k;
  }
}
const KNOWN_DIRECTIVES = [
  ...Object.keys(DATA_SIZES), ...IGNORED, ".code16", ".code32", ".code64", ".ascii", ".asciz", ".string", ".space", ".skip",
  ".zero", ".fill", ".align", ".balign", ".p2align", ".org", ".equ", ".set", ".equiv", ".intel_syntax", ".rept", ".endr", ".macro", ".endm", ".irp", ".irpc", ".exitm", ".purgem",
];

const MAX_PASSES = 64;
/** Largest image (and largest single .space/.org gap) the assembler builds. */
const MAX_IMAGE = 64n << 20n;

export function assembleX86(source: string, options: AssembleOptions = {}): X86Program {
  try {
    return new Assembler(options).run(source);
  } catch (e) {
    // Name the file in the message when the caller gave one ("... (in boot.s)").
    if (e instanceof AsmError && options.fileName) {
      const bare = e.message.replace(/^line \d+, column \d+: /, "");
      throw new AsmError(`${bare} (in ${options.fileName})`, e.line, e.column, e.hint);
    }
    throw e;
  }
}

class Assembler {
  readonly base: bigint;
  bits: Bits;
  items: Item[] = [];
  /** Symbols whose value is an absolute constant at this point of the source (for encoding choices). */
  constants = new Map<string, bigint>();
  labels = new Map<string, { line: number; column: number }>();
  localCount = new Map<string, number>();
  values = new Map<string, bigint>();
  /** Value each assignment statement produced in the latest pass. */
  setValues = new Map<Item, bigint>();
  end = 0n;
  /** In a code section (.text), alignment pads with NOPs like GNU as; elsewhere with zeros. */
  codeSection = true;

  constructor(options: AssembleOptions) {
    this.base = options.base ?? 0n;
    this.bits = options.bits ?? 64;
  }

  run(source: string): X86Program {
    new MacroExpander({
      parse: parseStatements,
      constant: (text, st, col) => {
        const c = this.constValue(this.expr(text, st, col));
        if (c === undefined) throw new AsmError(".rept count must be a constant", st.line, st.column, "use numbers and symbols assigned earlier");
        return c;
      },
      statement: (st) => this.statement(st),
    }).run(parseStatements(source));
    this.layout();
    return this.emit();
  }

  private localName(n: string, k: number): string {
    return `.L${n}\u0002${k}`;
  }

  private rename = (e: Expr): Expr =>
    renameSymbols(e, (name) => {
      const m = /^(\d+)([bf])$/.exec(name);
      if (!m) return name;
      const k = this.localCount.get(m[1]!) ?? 0;
      return this.localName(m[1]!, m[2] === "b" ? k : k + 1);
    });

  private constValue = (e: Expr): bigint | undefined => {
    if (mentionsDot(e)) return undefined;
    return evalExpr(e, { dot: 0n, lookup: (n) => this.constants.get(n) });
  };

  private expr(text: string, st: Statement, col: number): Expr {
    if (!text.trim()) throw new AsmError("missing expression", st.line, col);
    return this.rename(parseExpr(text, st.line, col));
  }

  private push(st: Statement, item: ItemBody & { listed?: boolean }): void {
    this.items.push({ line: st.line, text: st.text, address: 0n, listed: item.listed ?? true, bits: this.bits, ...item } as Item);
  }

  private statement(st: Statement): void {
    for (const l of st.labels) {
      let name = l.name;
      if (/^\d+$/.test(name)) {
        const k = (this.localCount.get(name) ?? 0) + 1;
        this.localCount.set(name, k);
        name = this.localName(name, k);
      } else if (this.labels.has(name) || this.constants.has(name)) {
        const prev = this.labels.get(name);
        throw new AsmError(`symbol \`${name}' is already defined`, st.line, l.column, prev ? `first defined on line ${prev.line}` : undefined);
      }
      this.labels.set(name, { line: st.line, column: l.column });
      this.push(st, { kind: "label", name, column: l.column, listed: false });
    }
    const body = st.body;
    if (!body) return;
    const assign = /^([A-Za-z_.$][\w.$]*)\s*=\s*(.*)$/.exec(body);
    if (assign) return this.assignment(st, assign[1]!, assign[2]!, st.column + body.indexOf("=") + 1);
    if (body.startsWith(".")) return this.directive(st);
    this.instruction(st, body, st.column, []);
  }

  private assignment(st: Statement, name: string, text: string, col: number): void {
    if (this.labels.has(name)) throw new AsmError(`symbol \`${name}' is already defined as a label`, st.line, st.column);
    const e = this.expr(text, st, col + (text.length - text.trimStart().length) + 1);
    const c = this.constValue(e);
    if (c !== undefined && symbolsOf(e).every((s) => this.constants.has(s))) this.constants.set(name, c);
    else this.constants.delete(name);
    this.push(st, { kind: "set", name, expr: e, column: st.column, listed: false });
  }

  /** `addrSize`: the address size an addr16/addr32 word before the mnemonic chose. */
  private instruction(st: Statement, body: string, col: number, prefixes: number[], addrSize?: 2 | 4): void {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(body)!; // [\s\S]: a U+2028 in the operands is text too (`.` stops at it)
    const mnemonic = m[1]!.toLowerCase();
    const restCol = col + body.length - m[2]!.length;
    const addr = ADDR_PREFIXES[mnemonic];
    if (addr !== undefined) {
      // GNU as's checks and messages (binutils gas/config/tc-i386.c add_prefix, parse_insn)
      if (addrSize !== undefined) throw new AsmError("same type of prefix used twice", st.line, col, "write one addr16 or addr32");
      if (addr === 2 && this.bits === 64) throw new AsmError("`addr16' is not supported in 64-bit mode", st.line, col, "64-bit code addresses with 64 bits, or 32 with addr32");
      if (this.bits !== 64 && addr === (this.bits === 16 ? 2 : 4)) {
        throw new AsmError(`redundant ${mnemonic} prefix`, st.line, col, `${this.bits}-bit code already uses ${addr * 8}-bit addresses`);
      }
      if (!m[2]) {
        this.push(st, { kind: "bytes", bytes: [0x67, ...prefixes], fixups: [] });
        return;
      }
      return this.instruction(st, m[2]!, restCol, prefixes, addr);
    }
    if (PREFIXES[mnemonic] !== undefined) {
      const p = [...prefixes, PREFIXES[mnemonic]!];
      if (!m[2]) {
        this.push(st, { kind: "bytes", bytes: addrSize ? [0x67, ...p] : p, fixups: [] });
        return;
      }
      return this.instruction(st, m[2]!, restCol, p, addrSize);
    }
    if (!isMnemonic(mnemonic)) {
      const near = nearest(mnemonic, knownMnemonics());
      throw new AsmError(`no such instruction: \`${m[1]}'`, st.line, col, near ? `did you mean \`${near}'?` : "see the x86 table in runtime/x86/isa/table.ts");
    }
    const ops = splitOperands(m[2]!, restCol).map(([t, c]) => parseOperand(t, st.line, c, this.rename));
    const encs = encodeInstruction(mnemonic, ops, { bits: this.bits, line: st.line, column: col, constValue: this.constValue, prefixes, mnemonic, ...(addrSize ? { addressSize: addrSize } : {}) });
    const short = encs.find((e) => e.spec.operands[0] === "Jb");
    const near = encs.find((e) => e.spec.operands[0] === "Jz");
    if (short && near && (short.spec.sem === "jmp" || short.spec.sem === "jcc")) {
      const target = near.fixups[0]!.expr;
      this.push(st, { kind: "relax", short, near, isNear: false, target, column: restCol });
      return;
    }
    let best = encs[0]!;
    for (const e of encs) if (e.bytes.length < best.bytes.length) best = e;
    this.push(st, { kind: "bytes", bytes: best.bytes, fixups: best.fixups });
  }

  private directive(st: Statement): void {
    const m = /^(\.[\w.]+)\s*([\s\S]*)$/.exec(st.body);
    if (!m) throw new AsmError(`bad directive \`${st.body.split(/\s/)[0]}'`, st.line, st.column, "directives look like .name arguments");
    const name = m[1]!.toLowerCase();
    const args = m[2]!;
    const argCol = st.column + st.body.length - args.length;
    const list = () => splitOperands(args, argCol);
    if (IGNORED.has(name) || name.startsWith(".cfi_")) return;
    if (SECTIONS.has(name)) {
      const section = name === ".section" ? (args.split(",")[0] ?? "").trim() : name;
      this.codeSection = section === ".text" || section.startsWith(".text.") || section === ".init" || /"[^"]*x[^"]*"/.test(args);
      return;
    }
    if (name === ".code16" || name === ".code32" || name === ".code64") {
      this.bits = Number(name.slice(5)) as Bits;
      return;
    }
    if (name === ".intel_syntax") throw new AsmError("Intel syntax is not supported", st.line, st.column, "write AT&T syntax (GNU as default)");
    if (DATA_SIZES[name] !== undefined) {
      const size = DATA_SIZES[name]!;
      const bytes: number[] = [];
      const fixups: Fixup[] = [];
      for (const [t, c] of list()) {
        if (t.startsWith('"') && size === 1) {
          for (const b of parseString(t, st.line, c).bytes) bytes.push(b);
          continue;
        }
        const e = this.expr(t, st, c);
        const v = this.constValue(e);
        const at = bytes.length;
        for (let i = 0; i < size; i++) bytes.push(0);
        if (v !== undefined) {
          if (!fits(v, size, "us")) throw new AsmError(`value ${t} does not fit in ${size} byte(s)`, st.line, c);
          writeLE(bytes, at, size, v);
        } else fixups.push({ at, size: size as Fixup["size"], expr: e, pcrel: false, range: "us", column: c });
      }
      this.push(st, { kind: "bytes", bytes, fixups });
      return;
    }
    if (name === ".ascii" || name === ".asciz" || name === ".string") {
      const bytes: number[] = [];
      for (const [t, c] of list()) {
        const s = parseString(t, st.line, c);
        if (s.rest.trim()) throw new AsmError("junk after string", st.line, c);
        for (const b of s.bytes) bytes.push(b);
        if (name !== ".ascii") bytes.push(0);
      }
      this.push(st, { kind: "bytes", bytes, fixups: [] });
      return;
    }
    if (name === ".space" || name === ".skip" || name === ".zero" || name === ".fill") {
      const a = list();
      if (a.length === 0) throw new AsmError(`${name} needs a size`, st.line, argCol);
      const count = this.expr(a[0]![0], st, a[0]![1]);
      if (name === ".fill") {
        const size = a[1] ? Number(this.constValue(this.expr(a[1][0], st, a[1][1])) ?? 1n) : 1;
        if (![1, 2, 4, 8].includes(size)) throw new AsmError(".fill size must be 1, 2, 4 or 8", st.line, a[1]![1]);
        const fill = a[2] ? this.expr(a[2][0], st, a[2][1]) : null;
        this.push(st, { kind: "space", count, size, fill, column: argCol });
      } else {
        const fill = a[1] ? this.expr(a[1][0], st, a[1][1]) : null;
        this.push(st, { kind: "space", count, size: 1, fill, column: argCol });
      }
      return;
    }
    if (name === ".align" || name === ".balign" || name === ".p2align") {
      const a = list();
      if (a.length === 0) throw new AsmError(`${name} needs an alignment`, st.line, argCol);
      const align = this.expr(a[0]![0], st, a[0]![1]);
      const fillText = a[1]?.[0];
      const fill = fillText ? Number((this.constValue(this.expr(fillText, st, a[1]![1])) ?? 0n) & 0xffn) : null;
      const max = a[2] ? this.expr(a[2][0], st, a[2][1]) : null;
      this.push(st, { kind: "align", align, fill, max, column: argCol, pow2: name === ".p2align", code: this.codeSection });
      return;
    }
    if (name === ".org") {
      const a = list();
      const fill = a[1] ? Number((this.constValue(this.expr(a[1][0], st, a[1][1])) ?? 0n) & 0xffn) : 0;
      this.push(st, { kind: "org", target: this.expr(a[0]?.[0] ?? "", st, argCol), fill, column: argCol });
      return;
    }
    if (name === ".equ" || name === ".set" || name === ".equiv") {
      const a = list();
      if (a.length !== 2 || !/^[A-Za-z_.$][\w.$]*$/.test(a[0]![0])) {
        throw new AsmError(`${name} needs a symbol name and an expression`, st.line, argCol, `${name} NAME, expression`);
      }
      if (name === ".equiv" && (this.constants.has(a[0]![0]) || this.labels.has(a[0]![0]))) {
        throw new AsmError(`symbol \`${a[0]![0]}' is already defined`, st.line, argCol);
      }
      return this.assignment(st, a[0]![0], a[1]![0], a[1]![1] - 1);
    }
    const near = nearest(name, KNOWN_DIRECTIVES);
    throw new AsmError(`unknown directive \`${name}'`, st.line, st.column, near ? `did you mean \`${near}'?` : undefined);
  }

  private lookup = (n: string): bigint | undefined => this.values.get(n);

  private itemSize(it: Item, addr: bigint, final: boolean): bigint {
    const ctx = { dot: addr, lookup: this.lookup };
    const need = (e: Expr, column: number, what: string): bigint => {
      const v = evalExpr(e, ctx);
      if (v === undefined) {
        if (!final) return 0n;
        const u = firstUndefined(e, ctx);
        throw new AsmError(`${what} uses undefined symbol \`${u?.name ?? "?"}'`, it.line, u?.column ?? column, "it must be defined before layout; use a constant");
      }
      return v;
    };
    switch (it.kind) {
      case "bytes": return BigInt(it.bytes.length);
      case "relax": return BigInt((it.isNear ? it.near : it.short).bytes.length);
      case "align": {
        let a = need(it.align, it.column, "alignment");
        if (it.pow2) a = a > 62n ? 0n : 1n << a;
        if (a <= 0n) return 0n;
        if (a & (a - 1n)) throw new AsmError("alignment is not a power of 2", it.line, it.column);
        const pad = (a - (addr % a)) % a;
        const max = it.max ? need(it.max, it.column, "alignment maximum") : null;
        return max !== null && pad > max ? 0n : pad;
      }
      case "space": {
        const n = need(it.count, it.column, "size") * BigInt(it.size);
        if (n < 0n) {
          if (!final) return 0n;
          throw new AsmError("negative size", it.line, it.column);
        }
        if (n > MAX_IMAGE) throw new AsmError("size too large (over 64 MiB)", it.line, it.column);
        return n;
      }
      case "org": {
        // GNU as: a constant .org is an offset in the section (our image starts at base).
        const t = need(it.target, it.column, ".org") + (symbolsOf(it.target).length || mentionsDot(it.target) ? 0n : this.base);
        if (t < addr) {
          if (!final) return 0n;
          throw new AsmError("attempt to move .org backwards", it.line, it.column);
        }
        if (t - addr > MAX_IMAGE) throw new AsmError(".org moves too far (over 64 MiB)", it.line, it.column);
        return t - addr;
      }
      default: return 0n;
    }
  }

  private pass(final: boolean): boolean {
    let addr = this.base;
    let changed = false;
    // Only the last assignment of a symbol decides convergence (`.set n, n + 1` is sequential).
    const lastSet = new Map<string, Item>();
    for (const it of this.items) if (it.kind === "set") lastSet.set(it.name, it);
    for (const it of this.items) {
      pollInterrupt("assembling");
      it.address = addr;
      if (it.kind === "label") {
        if (this.values.get(it.name) !== addr) changed = true;
        this.values.set(it.name, addr);
      } else if (it.kind === "set") {
        const v = evalExpr(it.expr, { dot: addr, lookup: this.lookup });
        if (v === undefined) {
          if (final) {
            const u = firstUndefined(it.expr, { dot: addr, lookup: this.lookup });
            throw new AsmError(`undefined symbol \`${u?.name}' in assignment to \`${it.name}'`, it.line, u?.column ?? it.column);
          }
        } else {
          if (this.setValues.get(it) !== v && lastSet.get(it.name) === it) changed = true;
          this.setValues.set(it, v);
          this.values.set(it.name, v);
        }
      }
      addr += this.itemSize(it, addr, final);
    }
    this.end = addr;
    for (const it of this.items) {
      if (it.kind !== "relax" || it.isNear) continue;
      const t = evalExpr(it.target, { dot: it.address, lookup: this.lookup });
      if (t === undefined) continue;
      const disp = t - (it.address + BigInt(it.short.bytes.length));
      if (disp < -128n || disp > 127n) (it.isNear = true), (changed = true);
    }
    return changed;
  }

  private layout(): void {
    for (let i = 0; i < MAX_PASSES; i++) {
      if (!this.pass(false)) {
        this.pass(true);
        if (this.end - this.base > MAX_IMAGE) throw new AsmError("program larger than 64 MiB", 1, 1);
        return;
      }
    }
    throw new AsmError("layout does not settle (symbols depend on each other's addresses)", 1, 1);
  }

  private emit(): X86Program {
    const out = new Uint8Array(Number(this.end - this.base));
    const lines: X86Program["lines"] = [];
    for (const it of this.items) {
      const off = Number(it.address - this.base);
      const size = Number(this.itemSize(it, it.address, true));
      if (it.kind === "bytes" || it.kind === "relax") {
        const enc = it.kind === "bytes" ? it : it.isNear ? it.near : it.short;
        out.set(enc.bytes, off);
        for (const f of enc.fixups) this.applyFixup(out, off, enc.bytes.length, f, it);
      } else if (it.kind === "align") {
        if (it.code && (it.fill === null || it.fill === 0x90)) fillNops(out, off, size);
        else out.fill(it.fill ?? 0, off, off + size);
      } else if (it.kind === "space") {
        const fill = it.fill ? evalExpr(it.fill, { dot: it.address, lookup: this.lookup }) ?? 0n : 0n;
        // one unit, then doubling copies: a 16 MiB .space is a few memcpy calls, not 16 Mi writes
        if (size > 0) writeLE(out, off, Math.min(it.size, size), fill);
        for (let done = it.size; done < size; done *= 2) out.copyWithin(off + done, off, off + Math.min(done, size - done));
      } else if (it.kind === "org") out.fill(it.fill, off, off + size);
      if (it.listed && (size > 0 || it.kind === "bytes")) lines.push({ address: it.address, line: it.line, text: it.text });
    }
    const symbols = new Map<string, bigint>();
    for (const [k, v] of this.values) if (!k.includes("\u0002")) symbols.set(k, v);
    return { base: this.base, bytes: out, symbols, lines };
  }

  private applyFixup(out: Uint8Array, off: number, len: number, f: Fixup, it: Item): void {
    const ctx = { dot: it.address, lookup: this.lookup };
    let v = evalExpr(f.expr, ctx);
    if (v === undefined) {
      const u = firstUndefined(f.expr, ctx);
      const name = u?.name ?? "?";
      const shown = name.includes("\u0002") ? name.replace(/^\.L(\d+)\u0002\d+$/, "$1 (numeric local label)") : name;
      const near = nearest(name, [...this.values.keys()].filter((k) => !k.includes("\u0002")));
      throw new AsmError(`undefined symbol \`${shown}'`, it.line, u?.column ?? f.column, near ? `did you mean \`${near}'?` : "define it as a label (name:) or with .equ");
    }
    // The instruction pointer wraps at the code size (SDM Vol. 1 3.5: EIP in 32-bit code, IP in
    // 16-bit code): `jmp 0xcbe092f1` at 0x1000 in 32-bit code is rel32 0xcbe082ec, and in 64-bit
    // code a target below the jump (e.g. 0xffffffff89bb1cf1) is a negative displacement.
    if (f.pcrel) {
      v -= it.address + BigInt(len);
      // Outside 64-bit code the pointer is as wide as the displacement (rel16: IP, rel32: EIP);
      // rel8 keeps the code's own width.
      const ipBits = it.bits === 64 ? 64 : f.size === 1 ? it.bits : f.size * 8;
      v = BigInt.asIntN(ipBits, v);
    }
    // A sign-extended field holds 64-bit addresses like 0xffffffff80001000 (R_X86_64_32S style).
    if (f.range === "s" && !f.pcrel) v = BigInt.asIntN(64, v);
    if (!fits(v, f.size, f.range)) {
      const what = f.pcrel && f.size === 1 ? "jump target out of range (this instruction reaches only -128..+127 bytes)" : `value 0x${BigInt.asUintN(64, v).toString(16)} does not fit in ${f.size} byte(s)`;
      throw new AsmError(what, it.line, f.column, f.pcrel && f.size === 1 ? "loop/jrcxz have no long form; restructure with a jcc" : undefined);
    }
    writeLE(out, off + f.at, f.size, v);
  }
}
