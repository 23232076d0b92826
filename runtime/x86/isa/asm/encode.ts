// Encoding one AT&T instruction against X86_TABLE: find the table entries the mnemonic names,
// match operands to their forms (reversing AT&T to Intel order), settle the operand size from the
// suffix and the registers, and lay out prefixes, REX, opcode, ModRM/SIB, displacement and
// immediates (SDM Vol. 2 §2.1-2.2). Among matching entries the shortest wins, ties go to the first
// in table order — the same choices GNU as makes (e.g. 83 /0 ib for small immediates, 89 for
// register moves, b8+r for mov $imm32,%r32).

import type { X86Seg } from "../../env.js";
import { AsmError } from "../../../core/errors.js";
import { X86_TABLE } from "../table.js";
import type { OperandForm, X86Spec } from "../types.js";
import { ADDRESS_SIZE_IGNORED, SEG_ORDER } from "../types.js";
import { symbolsOf, type Expr } from "../../../core/asm-expr.js";
import { nearest, type AsmOperand, type AsmRegister } from "./operands.js";
import { MOVX_SUFFIXED, gnuSuffixRule, movxRule, withImplicit } from "./gnu-rules.js";
import { fits, immediateValue, writeLE } from "./immediates.js";

export { fits, writeLE };

export type Bits = 16 | 32 | 64;

export interface Fixup {
  /** Byte offset within the instruction. */
  at: number;
  size: 1 | 2 | 4 | 8;
  expr: Expr;
  /** Relative to the end of the instruction (branches, %rip). */
  pcrel: boolean;
  /** Allowed range of the value: signed, unsigned-or-signed, or any. */
  range: "s" | "us" | "any";
  column: number;
}

export interface Encoding {
  spec: X86Spec;
  bytes: number[];
  fixups: Fixup[];
}

export interface EncodeContext {
  bits: Bits;
  line: number;
  column: number;
  /** Value of an expression if it is an absolute constant now (no labels, no `.`); else undefined. */
  constValue(e: Expr): bigint | undefined;
  /** Explicit prefixes written before the mnemonic (rep, lock ...). */
  prefixes: number[];
  /** Address size an addr16/addr32 prefix word chose (bytes); undefined = the mode's. */
  addressSize?: 2 | 4;
  /** The mnemonic as written, lower case (jecxz vs jrcxz pick the address size). */
  mnemonic?: string;
  /** movzx/movsx written with a source-size suffix (movzxw): the mnemonic was rewritten, take no other suffix. */
  movxSource?: boolean;
}

const SUFFIX_SIZE: Record<string, number> = { b: 1, w: 2, l: 4, q: 8 };

/** mnemonic (and alias) → table entries, in table order. */
const BY_NAME = new Map<string, X86Spec[]>();
for (const spec of X86_TABLE) {
  if (spec.noAsm) continue;
  for (const name of [spec.mnemonic, ...(spec.aliases ?? [])]) {
    let list = BY_NAME.get(name);
    if (!list) BY_NAME.set(name, (list = []));
    list.push(spec);
  }
}
// `iret` means the mode's default operand size (cf); iretw/iretl/iretq name one explicitly.
const IRET_SIZE: Record<string, number | "default"> = { iret: "default", iretw: 2, iretl: 4, iretq: 8 };
for (const name of Object.keys(IRET_SIZE)) BY_NAME.set(name, X86_TABLE.filter((s) => s.sem === "iret"));
BY_NAME.set("movabs", X86_TABLE.filter((s) => s.mnemonic === "mov" && (s.operands[1] === "Iv" || s.operands.includes("Ob") || s.operands.includes("Ov"))));

/** Every spelling the assembler accepts (for "did you mean"). */
export function knownMnemonics(): string[] {
  return [...BY_NAME.keys()];
}

export function isMnemonic(name: string): boolean {
  return BY_NAME.has(name) || (/[bwlq]$/.test(name) && BY_NAME.has(name.slice(0, -1)));
}

const V_FORMS = new Set<OperandForm>(["Ev", "Gv", "Zv", "rAX", "eAX", "Rv", "Iz", "Iv", "Ibs", "Xv", "Yv", "Ov", "Mp", "Ap", "Ms"]);

/**
 * Why a table entry did not fit. `stage` ranks how far matching got, so the error names the most
 * specific problem: 0 operand kinds/count, 1 operand size, 2 values and encodings, 3 CPU mode.
 */
/** Instructions without a sized operand whose size a suffix may still choose (ret/retl/retw, pushfq...). */
const SUFFIX_SIZED = new Set(["ret", "retfar", "leave", "pushf", "popf", "pushseg", "popseg", "call"]);

class Mismatch {
  readonly stage: number;
  constructor(readonly why: string, readonly sizeProblem = false, stage?: number) {
    this.stage = stage ?? (sizeProblem ? 1 : 2);
  }
}

/** Does an operand's kind (ignoring size) fit a form? */
function kindFits(f: OperandForm, op: AsmOperand): boolean {
  const k = op.kind as string;
  if (k === "implicit") return true;
  switch (f) {
    case "Eb": case "Ew": case "Ed": case "Ev": return k === "reg" || k === "mem" || k === "expr";
    case "M": case "Mw": case "Ms": case "Mp": return k === "mem" || k === "expr";
    case "Gb": case "Gw": case "Gv": case "Gy": case "Zb": case "Zv": case "AL": case "rAX": case "eAX": case "CL": case "Ry": case "Rv":
      return k === "reg";
    case "DX": return k === "reg" || k === "mem";
    case "Ib": case "Iw": case "Iz": case "Iv": case "Ibs": case "One": return k === "imm";
    case "Jb": case "Jz": return k === "expr";
    case "Sw": case "ES": case "CS": case "SS": case "DS": case "FS": case "GS": return k === "sreg";
    case "Cy": return k === "cr";
    case "Dy": return k === "dr";
    case "Ob": case "Ov": return k === "expr" || k === "mem";
    case "Ap": return k === "far";
    default: return k === "mem";
  }
}

type Reg = Extract<AsmRegister, { kind: "reg" }>;

/** Encode one instruction; throws AsmError when no table entry fits. */

export function encodeInstruction(mnemonic: string, ops: AsmOperand[], ctx: EncodeContext): Encoding[] {
  let name = mnemonic.toLowerCase();
  if (MOVX_SUFFIXED[name] && !(name === "movsxl" && ctx.bits !== 64)) {
    name = MOVX_SUFFIXED[name]!;
    ctx = { ...ctx, mnemonic: name, movxSource: true };
  }
  const tries: { spec: X86Spec; suffix?: number }[] = [];
  for (const spec of BY_NAME.get(name) ?? []) tries.push({ spec });
  const last = name[name.length - 1]!;
  if (SUFFIX_SIZE[last] && name.length > 1) {
    for (const spec of BY_NAME.get(name.slice(0, -1)) ?? []) tries.push({ spec, suffix: SUFFIX_SIZE[last] });
  }
  if (tries.length === 0) {
    const near = nearest(name, knownMnemonics());
    throw new AsmError(`no such instruction: \`${mnemonic}'`, ctx.line, ctx.column, near ? `did you mean \`${near}'?` : undefined);
  }
  const ok: Encoding[] = [];
  let best: Mismatch | undefined;
  const sizeAmbiguous = tries.some((t) => t.spec.operands.some((f) => V_FORMS.has(f)));
  for (const t of tries) {
    const orders = t.spec.commutative && ops.length === 2 ? [ops, [ops[1]!, ops[0]!]] : [ops];
    for (const o of orders) {
      const r = tryEncode(t.spec, o, t.suffix, ctx, sizeAmbiguous);
      if (r instanceof Mismatch) {
        if (!best || r.stage > best.stage) best = r;
      } else {
        ok.push(r);
        break;
      }
    }
  }
  if (ok.length) return ok;
  if (best?.sizeProblem) throw new AsmError(`${best.why} for \`${mnemonic}'`, ctx.line, ctx.column, sizeHint(name));
  if (best?.stage === 3) throw new AsmError(`\`${mnemonic}': ${best.why}`, ctx.line, ctx.column, "`.code16`, `.code32` and `.code64` set the mode the assembler encodes for: it must match the mode the CPU runs the code in");
  const forms = [...new Set(tries.map((t) => atntForms(t.spec)))].slice(0, 8).join("; ");
  const why = best && best.stage > 0 ? ` (${best.why})` : "";
  throw new AsmError(`operand type mismatch for \`${mnemonic}'${why}`, ctx.line, ctx.column, `valid forms: ${forms}`);
}

function sizeHint(name: string): string {
  return `add a size suffix (${name}b/${name}w/${name}l/${name}q) or use registers of one size`;
}

const FORM_TEXT: Partial<Record<OperandForm, string>> = {
  Eb: "r/m8", Ew: "r/m16", Ed: "r/m32", Ev: "r/m", Gb: "r8", Gw: "r16", Gv: "r", Gy: "r32/64", Ib: "$imm8", Iw: "$imm16",
  Iz: "$imm32", Iv: "$imm", Ibs: "$imm8", Jb: "label", Jz: "label", Zb: "r8", Zv: "r", AL: "%al", rAX: "%eax/%rax",
  eAX: "%ax/%eax", DX: "(%dx)", CL: "%cl", Sw: "%sreg", Cy: "%crN", Dy: "%dbN", Ry: "r", Rv: "r", M: "mem", Mw: "m16",
  Ms: "m16&base", Mp: "m16:32", Ob: "moffs", Ov: "moffs", Ap: "$sel,$offset",
};

function atntForms(spec: X86Spec): string {
  const ops = [...spec.operands].reverse().map((f) => FORM_TEXT[f] ?? `%${f.toLowerCase()}`);
  return `${spec.mnemonic} ${ops.join(",")}`.trim();
}

function modeDefault(bits: Bits): number {
  return bits === 16 ? 2 : 4;
}

function tryEncode(spec: X86Spec, atnt: AsmOperand[], suffix: number | undefined, ctx: EncodeContext, sizeAmbiguous: boolean): Encoding | Mismatch {
  const bits = ctx.bits;
  if (spec.sem === "jrcxz") {
    const want = ctx.mnemonic === "jrcxz" ? 64 : ctx.mnemonic === "jecxz" ? 32 : 16;
    if (want === 64 && bits !== 64) return new Mismatch("only valid in 64-bit mode", false, 3);
    if (want === 16 && bits === 64) return new Mismatch("not valid in 64-bit mode", false, 3);
  }
  if (spec.sem === "iret" && ctx.mnemonic && IRET_SIZE[ctx.mnemonic] !== undefined) {
    const want = IRET_SIZE[ctx.mnemonic] === "default" ? modeDefault(bits) : IRET_SIZE[ctx.mnemonic];
    if (spec.osize !== (want as number) * 8) return new Mismatch("operand size of iret", false, 0);
  }
  let ops = [...atnt].reverse();
  const forms = spec.operands;
  // Implicit operands: string instructions without operands, the `1` of shifts, imul $i,%r.
  if (ops.length === 0 && forms.some((f) => f === "Xb" || f === "Xv" || f === "Yb" || f === "Yv")) {
    ops = forms.map((f) => ({ kind: "implicit", form: f }) as unknown as AsmOperand);
  }
  if (forms.includes("One") && ops.length === forms.length - 1) {
    ops = [...ops];
    ops.splice(forms.indexOf("One"), 0, { kind: "imm", expr: { kind: "num", value: 1n }, column: ctx.column, text: "$1" });
  }
  if (forms.length === 3 && ops.length === 2 && ops[1]!.kind === "imm" && ops[0]!.kind === "reg") ops = [ops[0]!, ops[0]!, ops[1]!];
  if (forms[0] === "Ap" && ops.length === 2 && ops[0]!.kind === "imm" && ops[1]!.kind === "imm") {
    ops = [{ kind: "far", selector: ops[1]!.expr, offset: ops[0]!.expr, column: ops[1]!.column, text: "" } as unknown as AsmOperand];
  }
  if (ops.length < forms.length) ops = withImplicit(spec, ops, (f, o) => kindFits(f as OperandForm, o))[0] ?? ops;
  if (ops.length !== forms.length) return new Mismatch(`expected ${forms.length} operand(s), got ${atnt.length}`, false, 0);
  for (let i = 0; i < forms.length; i++) if (!kindFits(forms[i]!, ops[i]!)) return new Mismatch(`operand ${forms.length - i} has the wrong kind`, false, 0);
  if (spec.modes === "i64" && bits === 64) return new Mismatch("not valid in 64-bit mode", false, 3);
  if (spec.modes === "o64" && bits !== 64) return new Mismatch("only valid in 64-bit mode", false, 3);
  const isJump = forms[0] === "Jb" || forms[0] === "Jz";
  const indirectOk = spec.sem === "jmpind" || spec.sem === "callind" || spec.sem === "jmpfarind" || spec.sem === "callfarind";
  for (const op of ops) {
    if (op.indirect && !indirectOk) return new Mismatch("`*' is only for indirect jumps and calls");
  }
  if (indirectOk && ops[0] && !ops[0].indirect && ops[0].kind !== ("implicit" as string)) {
    // GNU as takes a register or a memory operand with a base/index without `*' (a warning), and
    // any memory operand for a far one (ljmp/lcall have no other memory form)
    const o = ops[0];
    const far = spec.sem === "jmpfarind" || spec.sem === "callfarind";
    if (!(far || o.kind === "reg" || (o.kind === "mem" && (o.base || o.index || o.rip)))) return new Mismatch("indirect branch needs `*'");
  }
  if (ctx.mnemonic?.startsWith("movabs")) {
    if (bits !== 64) return new Mismatch("`movabs' is only supported in 64-bit mode", false, 3);
  }
  const rule = gnuSuffixRule(spec, suffix, bits, ops);
  if (rule?.reject) return new Mismatch(rule.reject, true);

  // Operand size: suffix, then registers in size-carrying forms.
  const byteOnly = forms.some((f) => f === "Eb" || f === "Gb" || f === "Zb" || f === "AL" || f === "Xb" || f === "Yb");
  const hasV = forms.some((f) => V_FORMS.has(f));
  let v: number | undefined = rule?.v;
  const movx = movxRule(spec, suffix, ctx.mnemonic, !!ctx.movxSource, ops);
  if (movx) return new Mismatch(movx, true);
  if (suffix !== undefined && !rule) {
    if (hasV) {
      if (suffix === 1) return new Mismatch("operand size mismatch", true);
      v = suffix;
    } else if (byteOnly && !hasV) {
      if (suffix !== 1 && !(spec.sem === "setcc")) return new Mismatch("invalid instruction suffix", true);
    } else if (SUFFIX_SIZED.has(spec.sem)) {
      v = suffix; // retl, pushfq, lretq, pushw %ds: the suffix picks the operand size
    } else if (!(spec.osize && spec.osize / 8 === suffix) && spec.suffix !== "always") {
      return new Mismatch("invalid instruction suffix", true);
    }
  }
  let vFromReg = false;
  let guessed = false;
  for (let i = 0; i < forms.length; i++) {
    const f = forms[i]!;
    const op = ops[i]!;
    if (op.kind !== "reg") continue;
    let size: number | undefined;
    if (f === "Ev" || f === "Gv" || f === "Zv" || f === "rAX" || f === "Rv" || f === "eAX") size = op.size;
    if (size === undefined) continue;
    if (size === 1) return new Mismatch("operand size mismatch", true);
    if (v !== undefined && v !== size) return new Mismatch("operand size mismatch", true);
    v = size;
    vFromReg = true;
  }
  if (spec.osize !== undefined) {
    if (v !== undefined && v !== spec.osize / 8) return new Mismatch("operand size mismatch", true);
    v = spec.osize / 8;
  }
  if (v === undefined) {
    if (spec.size64) v = bits === 64 ? 8 : modeDefault(bits);
    else if (spec.sem === "jmpfarind" || spec.sem === "callfarind") v = modeDefault(bits);
    // GNU as: "no instruction mnemonic suffix given and no register operands; using default" (a
    // warning): the mode's default operand size, l (w in 16-bit code)
    else (v = modeDefault(bits)), (guessed = hasV && bits !== 16); // 16-bit code shortens as if the size were written
  }
  if (v === 8 && bits !== 64) return new Mismatch("a 64-bit operand size needs 64-bit code (.code64)", false, 3);
  if (spec.size64 === "d64" && bits === 64 && v === 4) return new Mismatch("32-bit operand size is not encodable in 64-bit mode", true);
  if (spec.size64 === "f64" && bits === 64 && v !== 8 && v !== 2) return new Mismatch("operand size must be 64-bit in 64-bit mode", true);
  if (forms.includes("eAX") && v === 8) return new Mismatch("operand size mismatch", true);

  // GNU as guesses `l' for `mov $1,(%rax)' (with a warning), so the byte form is not the one meant
  // unless a byte register says so; a register of a sized form (movzx's destination) settles it too.
  if (byteOnly && suffix === undefined && sizeAmbiguous && !vFromReg) {
    const byteReg = forms.some((f, i) => (f === "Eb" || f === "Gb" || f === "Zb" || f === "AL") && ops[i]!.kind === "reg");
    if (!byteReg) return new Mismatch("no instruction mnemonic suffix given and no register operands; operand size unknown", true);
  }
  if (spec.sem === "movsx" && spec.opcode === 0x63 && spec.map === 0 && v !== 8 && ctx.mnemonic !== "movsxd") return new Mismatch("movslq needs a 64-bit destination", true);
  if (ctx.mnemonic?.startsWith("movabs") && forms[1] === "Iv" && v !== 8) return new Mismatch("movabs takes a 64-bit register", true);
  const e = new Builder(spec, v, ctx);
  e.sizeGuessed = guessed;
  e.suffixGiven = suffix !== undefined;
  e.noSizePrefix = !!rule?.noSizePrefix;
  e.noRexW = !!rule?.noRexW || !!rule?.noSizePrefix;
  if (rule?.addrSize) {
    if (ctx.addressSize !== undefined && rule.addrSize !== ctx.addressSize) return new Mismatch(`the suffix asks for ${rule.addrSize * 8}-bit addresses, the prefix for ${ctx.addressSize * 8}`);
    e.addrSize = rule.addrSize;
  }
  for (let i = 0; i < forms.length; i++) {
    const r = e.operand(forms[i]!, ops[i]!, isJump);
    if (r) return r;
  }
  return e.finish();
}

class Builder {
  rex = 0;
  /** `xchg %rAX,%rAX` through 90: encoded without REX.W. */
  accSelf = false;
  /** The operand size was guessed (no suffix, no register): immediates are not shortened. */
  sizeGuessed = false;
  /** A size suffix was written: GNU as then shortens a 16-bit immediate (retw $0x12345) instead of refusing it. */
  suffixGiven = false;
  /** No 66/REX.W for the operand size (see gnu-rules.ts). */
  noSizePrefix = false;
  noRexW = false;
  /** %cr8 in 32-bit code: a LOCK prefix stands for REX.R (AMD's alternative encoding, as GNU as writes it). */
  lockCr8 = false;
  needRex = false;
  forbidRex = false;
  regField: number | undefined;
  mod = 3;
  rm = 0;
  sib: number | undefined;
  disp: { size: number; expr?: Expr; value?: bigint; pcrel: boolean; column: number } | undefined;
  imms: { size: 1 | 2 | 4 | 8; expr: Expr; value?: bigint; pcrel: boolean; range: Fixup["range"]; column: number }[] = [];
  opcodeReg = 0;
  addrSize: number;
  seg: X86Seg | undefined;

  constructor(readonly spec: X86Spec, readonly v: number, readonly ctx: EncodeContext) {
    this.regField = spec.ext;
    this.addrSize = ctx.addressSize ?? (ctx.bits === 64 ? 8 : modeDefault(ctx.bits));
  }

  /** A register operand's address size, unless an addr16/addr32 word chose another. */
  private addressRegisters(size: number, text: string): Mismatch | undefined {
    const want = this.ctx.addressSize;
    return want === undefined || want === size ? undefined : new Mismatch(`\`${text}' is not a valid base/index expression with ${want * 8}-bit addresses (addr${want * 8})`);
  }

  private useReg(r: Reg): Mismatch | undefined {
    if (r.size === 1 && r.high8) this.forbidRex = true;
    else if (r.size === 1 && r.reg >= 4) this.needRex = true;
    if (r.reg >= 8) this.needRex = true;
    if (this.needRex && this.ctx.bits !== 64) return new Mismatch(`register %${r.name} exists only in 64-bit code`);
    return undefined;
  }

  operand(f: OperandForm, op: AsmOperand, isJump: boolean): Mismatch | undefined {
    const v = this.v;
    const k = op.kind as string;
    if (k === "implicit") return undefined;
    const reg = (size: number, check?: (r: Reg) => boolean): Reg | Mismatch => {
      if (op.kind !== "reg") return new Mismatch("expected a register");
      if (op.size !== size) return new Mismatch("operand size mismatch", true);
      if (check && !check(op)) return new Mismatch(`%${op.name} not allowed here`);
      const m = this.useReg(op);
      return m ?? op;
    };
    const setRm = (size: number): Mismatch | undefined => {
      if (op.kind === "reg") {
        const r = reg(size);
        if (r instanceof Mismatch) return r;
        this.mod = 3;
        this.rm = regCode(r) & 7;
        if (r.reg & 8) this.rex |= 1;
        return undefined;
      }
      return this.memory(op);
    };
    const setReg = (r: Reg | Mismatch): Mismatch | undefined => {
      if (r instanceof Mismatch) return r;
      this.regField = regCode(r) & 7;
      if (r.reg & 8) this.rex |= 4;
      return undefined;
    };
    switch (f) {
      case "Eb": return setRm(1);
      case "Ew": return op.kind === "reg" && op.size === 4 && this.spec.sem === "lmsw" ? new Mismatch("operand size mismatch", true) : setRm(2);
      case "Ed": return setRm(4);
      case "Ev": return setRm(v);
      case "M": case "Mw": case "Ms": case "Mp":
        return op.kind === "reg" ? new Mismatch("expected a memory operand") : this.memory(op);
      case "Gb": return setReg(reg(1));
      case "Gw": return setReg(reg(2));
      case "Gv": return setReg(reg(v));
      case "Gy": return setReg(reg(v === 8 ? 8 : 4));
      case "Rv": case "Ry": {
        const r = reg(f === "Ry" ? (this.ctx.bits === 64 ? 8 : 4) : v);
        if (r instanceof Mismatch) return r;
        this.mod = 3;
        this.rm = r.reg & 7;
        if (r.reg & 8) this.rex |= 1;
        return undefined;
      }
      case "Zb": case "Zv": {
        const r = reg(f === "Zb" ? 1 : v);
        if (r instanceof Mismatch) return r;
        // xchg of the accumulator with itself (binutils gas/config/tc-i386.c, checked with GNU as
        // 2.40): `90` in every size but one, with no REX.W for %rax; in 64-bit mode `xchg %eax,%eax`
        // keeps 87 /r, since 90 would not zero-extend %rax's upper half.
        if (this.spec.sem === "xchg" && r.reg === 0) {
          if (this.ctx.bits === 64 && r.size === 4) return new Mismatch("xchg %eax,%eax uses 87 /r in 64-bit mode");
          this.accSelf = true;
        }
        this.opcodeReg = regCode(r) & 7;
        if (r.reg & 8) this.rex |= 1;
        return undefined;
      }
      case "AL": case "rAX": case "eAX": case "CL": case "DX": {
        if (f === "DX" && op.kind === "mem" && op.base?.reg === 2 && op.base.size === 2 && !op.index && !op.disp && !op.seg) return undefined;
        const want = f === "AL" || f === "CL" ? 1 : f === "DX" ? 2 : v;
        const num = f === "CL" ? 1 : f === "DX" ? 2 : 0;
        const r = reg(want, (x) => x.reg === num && !x.high8);
        return r instanceof Mismatch ? r : undefined;
      }
      case "Sw": case "ES": case "CS": case "SS": case "DS": case "FS": case "GS": {
        if (op.kind !== "sreg") return new Mismatch("expected a segment register");
        if (f !== "Sw") return op.seg === f.toLowerCase() ? undefined : new Mismatch("wrong segment register");
        this.regField = op.n;
        return undefined;
      }
      case "Cy": case "Dy": {
        if (op.kind !== (f === "Cy" ? "cr" : "dr")) return new Mismatch(`expected a ${f === "Cy" ? "control" : "debug"} register`);
        const n = (op as { n: number }).n;
        this.regField = n & 7;
        if (n & 8 && this.ctx.bits !== 64) this.lockCr8 = true;
        else if (n & 8) this.rex |= 4;
        return undefined;
      }
      case "One":
        return op.kind === "imm" && this.ctx.constValue(op.expr) === 1n ? undefined : new Mismatch("shift by 1 form");
      case "Ib": case "Iw": case "Iz": case "Iv": case "Ibs": {
        if (op.kind !== "imm") return new Mismatch("expected an immediate");
        const size = (f === "Ib" || f === "Ibs" ? 1 : f === "Iw" ? 2 : f === "Iz" ? Math.min(v, 4) : v) as 1 | 2 | 4 | 8;
        const r = immediateValue(this.ctx.constValue(op.expr), f, this.spec.operands, v, {
          bits: this.ctx.bits, sizeGuessed: this.sizeGuessed, suffixGiven: this.suffixGiven,
        });
        if (typeof r === "string") return new Mismatch(r);
        const c = r.value;
        const range: Fixup["range"] = f === "Iz" && v === 8 ? "s" : f === "Ibs" ? "s" : "us";
        this.imms.push({ size, expr: op.expr, value: c, pcrel: false, range, column: op.column });
        return undefined;
      }
      case "Jb": case "Jz": {
        if (op.kind !== "expr" || op.seg) return new Mismatch("expected a branch target");
        if (!isJump && op.indirect) return new Mismatch("unexpected `*'");
        const size = (f === "Jb" ? 1 : v === 2 ? 2 : 4) as 1 | 2 | 4;
        // 16-bit code: IP wraps within the segment, so a rel16 reaches every offset (GNU as wraps it too)
        this.imms.push({ size, expr: op.expr, pcrel: true, range: size === 2 && this.ctx.bits === 16 ? "any" : "s", column: op.column });
        return undefined;
      }
      case "Ob": case "Ov": {
        const expr = op.kind === "expr" ? op.expr : op.kind === "mem" && !op.base && !op.index && !op.rip ? op.disp : undefined;
        if (!expr) return new Mismatch("expected an absolute address");
        if (op.kind === "expr" || op.kind === "mem") this.seg = op.seg;
        // a 16-bit address is shortened to 16 bits, as GNU as does (with a warning)
        this.imms.push({ size: this.addrSize as 2 | 4 | 8, expr, pcrel: false, range: this.addrSize === 2 ? "any" : "us", column: op.column });
        return undefined;
      }
      case "Ap": {
        const far = op as unknown as { kind: string; selector: Expr; offset: Expr; column: number };
        if (far.kind !== "far") return new Mismatch("expected $selector,$offset");
        this.imms.push({ size: v === 2 ? 2 : 4, expr: far.offset, pcrel: false, range: "us", column: far.column });
        this.imms.push({ size: 2, expr: far.selector, pcrel: false, range: "us", column: far.column });
        return undefined;
      }
      case "Xb": case "Xv": case "Yb": case "Yv": {
        if (op.kind !== "mem" || !op.base || op.index || op.disp) return new Mismatch("string operand must be (%rsi) or (%rdi)");
        const want = f[0] === "X" ? 6 : 7;
        if (op.base.reg !== want) return new Mismatch("string operand must be (%rsi) or (%rdi)");
        if (f[0] === "Y" && op.seg && op.seg !== "es") return new Mismatch("destination string operand must use %es");
        const as = op.base.size;
        const clash = this.addressRegisters(as, op.text);
        if (clash) return clash;
        this.addrSize = as;
        if (f[0] === "X" && op.seg && op.seg !== "ds") this.seg = op.seg;
        return undefined;
      }
    }
    return new Mismatch(`unsupported form ${f}`);
  }

  /** ModRM/SIB/displacement for a memory operand (SDM Vol. 2 Tables 2-1..2-3). */
  memory(op: AsmOperand): Mismatch | undefined {
    if (op.kind !== "mem" && op.kind !== "expr") return new Mismatch("expected a memory operand");
    if (op.kind === "expr" && (this.spec.operands[0] === "Jb" || this.spec.operands[0] === "Jz")) return new Mismatch("branch");
    this.seg = op.seg;
    const bits = this.ctx.bits;
    const base = op.kind === "mem" ? op.base : undefined;
    const index = op.kind === "mem" ? op.index : undefined;
    const rip = op.kind === "mem" ? op.rip : undefined;
    const dispExpr = op.kind === "mem" ? op.disp : op.expr;
    const c = dispExpr ? this.ctx.constValue(dispExpr) : 0n;
    const regSize = rip ?? base?.size ?? index?.size;
    if (regSize !== undefined) {
      if (regSize === 8 && bits !== 64) return new Mismatch("64-bit addressing exists only in 64-bit code");
      if (regSize === 2 && bits === 64) return new Mismatch("16-bit addressing is not available in 64-bit mode");
      const clash = this.addressRegisters(regSize, op.text);
      if (clash) return clash;
      this.addrSize = regSize;
    }
    for (const r of [base, index]) if (r && r.reg >= 8) this.needRex = true;
    // GNU as drops an override that names the default segment (%ss for %rbp/%rsp bases, else %ds).
    const defaultSeg = base && (base.reg === 4 || base.reg === 5) ? "ss" : "ds";
    if (this.seg === defaultSeg) this.seg = undefined;
    const col = op.column;
    if (this.addrSize === 2) return this.memory16(base, index, op.kind === "mem" ? op.scale : 1, dispExpr, c, col);
    if (rip) {
      this.mod = 0;
      this.rm = 5;
      const pcrel = dispExpr !== undefined && symbolsOf(dispExpr).length > 0;
      this.disp = { size: 4, expr: dispExpr, value: pcrel ? undefined : c ?? 0n, pcrel, column: col };
      return undefined;
    }
    const dispSize = (mustHave: boolean): number => {
      if (!dispExpr) return mustHave ? 1 : 0;
      if (c === undefined) return 4;
      if (c === 0n && !mustHave) return 0;
      return c >= -128n && c <= 127n ? 1 : 4;
    };
    if (!base && !index) {
      // Absolute: 64-bit mode needs a SIB with no base and no index (mod 00 rm 101 would be %rip).
      this.mod = 0;
      if (bits === 64) (this.rm = 4), (this.sib = (4 << 3) | 5);
      else this.rm = 5;
      this.disp = { size: 4, expr: dispExpr, value: c, pcrel: false, column: col };
      return undefined;
    }
    const scaleBits = { 1: 0, 2: 1, 4: 2, 8: 3 }[op.kind === "mem" ? op.scale : 1]!;
    if (index) {
      if (index.reg & 8) this.rex |= 2;
      if (!base) {
        this.mod = 0;
        this.rm = 4;
        this.sib = (scaleBits << 6) | ((index.reg & 7) << 3) | 5;
        this.disp = { size: 4, expr: dispExpr, value: c ?? undefined, pcrel: false, column: col };
        return undefined;
      }
      this.rm = 4;
      this.sib = (scaleBits << 6) | ((index.reg & 7) << 3) | (base.reg & 7);
    } else {
      this.rm = base!.reg & 7;
      if (this.rm === 4) this.sib = (4 << 3) | 4;
    }
    if (base!.reg & 8) this.rex |= 1;
    const ds = dispSize((base!.reg & 7) === 5);
    this.mod = ds === 0 ? 0 : ds === 1 ? 1 : 2;
    if (ds) this.disp = { size: ds, expr: dispExpr, value: c ?? undefined, pcrel: false, column: col };
    return undefined;
  }

  private memory16(base: Reg | undefined, index: Reg | undefined, scale: number, dispExpr: Expr | undefined, c: bigint | undefined, col: number): Mismatch | undefined {
    if (scale !== 1) return new Mismatch("16-bit addressing has no scale");
    const key = `${base?.reg ?? "-"},${index?.reg ?? "-"}`;
    const RM16: Record<string, number> = { "3,6": 0, "3,7": 1, "5,6": 2, "5,7": 3, "6,-": 4, "7,-": 5, "5,-": 6, "3,-": 7 };
    if (!base && !index) {
      this.mod = 0;
      this.rm = 6;
      this.disp = { size: 2, expr: dispExpr, value: c, pcrel: false, column: col };
      return undefined;
    }
    const rm = RM16[key];
    if (rm === undefined) return new Mismatch("not a valid 16-bit base/index combination");
    this.rm = rm;
    const must = rm === 6;
    if (!dispExpr || (c === 0n && !must)) this.mod = must ? 1 : 0;
    else this.mod = c !== undefined && c >= -128n && c <= 127n ? 1 : 2;
    if (this.mod) this.disp = { size: this.mod === 1 ? 1 : 2, expr: dispExpr, value: c ?? (dispExpr ? undefined : 0n), pcrel: false, column: col };
    return undefined;
  }

  finish(): Encoding | Mismatch {
    const spec = this.spec;
    const bits = this.ctx.bits;
    const out: number[] = [];
    if (this.seg) out.push([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65][SEG_ORDER.indexOf(this.seg)]!);
    const defAddr = bits === 64 ? 8 : modeDefault(bits);
    if (spec.sem === "jrcxz") {
      const m = this.ctx.mnemonic;
      this.addrSize = m === "jrcxz" ? 8 : m === "jecxz" ? 4 : m === "jcxz" ? 2 : defAddr;
      if (this.ctx.addressSize !== undefined && this.addrSize !== this.ctx.addressSize) return new Mismatch(`\`${m}' counts with a ${this.addrSize * 8}-bit register, the prefix asks for ${this.ctx.addressSize * 8}`);
    }
    // GNU as drops addr16/addr32 on a direct jump or call ("skipping prefixes", with a warning)
    if (ADDRESS_SIZE_IGNORED.has(spec.sem) && this.ctx.addressSize !== undefined) this.addrSize = defAddr;
    if (this.addrSize !== defAddr) {
      if (bits === 64 && this.addrSize === 2) return new Mismatch("16-bit addressing is not available in 64-bit mode");
      out.push(0x67);
    }
    const usesV = spec.operands.some((f) => V_FORMS.has(f)) || spec.osize !== undefined || spec.suffix === "always" || SUFFIX_SIZED.has(spec.sem);
    const def = modeDefault(bits);
    // GNU as writes `mov %ax,%ds` without 66: the operand size does not matter for 8E.
    const sregLoad = spec.sem === "movsreg" && this.mod === 3;
    if (usesV && this.v === 2 && def !== 2 && !sregLoad && !this.noSizePrefix) out.push(0x66);
    if (usesV && this.v === 4 && def === 2 && !sregLoad && !this.noSizePrefix) out.push(0x66);
    if (spec.prefix === 0xf3) out.push(0xf3);
    for (const p of this.ctx.prefixes) out.push(p);
    if (usesV && this.v === 8 && !spec.size64 && !this.accSelf && !this.noRexW) this.rex |= 8;
    if (this.lockCr8) out.push(0xf0);
    if (this.rex || this.needRex) {
      if (this.forbidRex) return new Mismatch("%ah/%bh/%ch/%dh cannot be encoded with a REX prefix");
      out.push(0x40 | this.rex);
    }
    if (spec.map >= 1) out.push(0x0f);
    if (spec.map === 2) out.push(0x38);
    if (spec.map === 3) out.push(0x3a);
    out.push(spec.opcode | (spec.plusReg ? this.opcodeReg : 0));
    if (spec.modrm) {
      const reg = this.regField ?? 0;
      const rm = spec.rm !== undefined ? spec.rm : this.rm;
      const mod = spec.rm !== undefined ? 3 : this.mod;
      out.push((mod << 6) | (reg << 3) | rm);
      if (this.sib !== undefined && mod !== 3) out.push(this.sib);
    }
    const fixups: Fixup[] = [];
    const field = (size: number, expr: Expr | undefined, value: bigint | undefined, pcrel: boolean, range: Fixup["range"], column: number) => {
      const at = out.length;
      for (let i = 0; i < size; i++) out.push(0);
      if (value !== undefined && !pcrel) writeLE(out, at, size, value);
      else if (expr) fixups.push({ at, size: size as Fixup["size"], expr, pcrel, range, column });
    };
    if (this.disp && spec.modrm) {
      const d = this.disp;
      const range = bits === 64 && this.addrSize === 8 && !d.pcrel ? "s" : d.pcrel ? "s" : "us";
      // a constant address must fit its field (GNU as takes the moffs form, A0-A3, for a 64-bit one)
      if (this.addrSize === 8 && d.value !== undefined && !d.pcrel && !fits(BigInt.asIntN(64, d.value), d.size, range) && !fits(d.value, d.size, range)) return new Mismatch(`address 0x${BigInt.asUintN(64, d.value).toString(16)} does not fit a ${d.size * 8}-bit displacement`);
      field(d.size, d.expr, d.value, d.pcrel, range, d.column);
    }
    for (const im of this.imms) field(im.size, im.expr, im.value, im.pcrel, im.range, im.column);
    if (out.length > 15) return new Mismatch("instruction longer than 15 bytes");
    return { spec, bytes: out, fixups };
  }
}

/** Register number as encoded: %ah..%bh are 4..7 without REX. */
function regCode(r: Reg): number {
  return r.high8 ? r.reg + 4 : r.reg;
}

