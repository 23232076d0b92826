// Encoding one AT&T instruction against X86_TABLE: find the table entries the mnemonic names,
// match operands to their forms (reversing AT&T to Intel order), settle the operand size from the
// suffix and the registers; builder.ts then lays out prefixes, REX, opcode, ModRM/SIB,
// displacement and immediates (SDM Vol. 2 §2.1-2.2). Among matching entries the shortest wins, ties
// go to the first in table order — the same choices GNU as makes (e.g. 83 /0 ib for small
// immediates, 89 for register moves, b8+r for mov $imm32,%r32).

import { AsmError } from "../../../core/errors.js";
import { X86_TABLE } from "../table.js";
import type { OperandForm, X86Spec } from "../types.js";
import { nearest, type AsmOperand } from "./operands.js";
import { MOVX_SUFFIXED, gnuSuffixRule, movxRule, withImplicit } from "./gnu-rules.js";
import { fits, writeLE } from "./immediates.js";
import { Builder } from "./builder.js";
import { Mismatch, modeDefault, SUFFIX_SIZED, V_FORMS, type EncodeContext, type Encoding } from "./encoding.js";

export { fits, writeLE };
export type { Bits, EncodeContext, Encoding, Fixup } from "./encoding.js";

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

/** Does an operand's kind (ignoring size) fit a form? */
function kindFits(f: OperandForm, op: AsmOperand): boolean {
  const k = op.kind as string;
  if (k === "implicit") return true;
  switch (f) {
    case "Eb": case "Ew": case "Ed": case "Ev": return k === "reg" || k === "mem" || k === "expr";
    case "M": case "Mw": case "Ms": case "Mp": return k === "mem" || k === "expr";
    case "Gb": case "Gw": case "Gv": case "Gy": case "Zb": case "Zv": case "AL": case "AX": case "rAX": case "eAX": case "CL": case "Ry": case "Rv":
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
  if (ops.length === 0 && forms.some((f) => f === "Xb" || f === "Xv" || f === "Yb" || f === "Yv" || f === "Bb")) {
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
  const byteOnly = forms.some((f) => f === "Eb" || f === "Gb" || f === "Zb" || f === "AL" || f === "Xb" || f === "Yb" || f === "Bb");
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

