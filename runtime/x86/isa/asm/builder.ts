// The bytes of one x86 instruction once its table entry and operand size are chosen (encode.ts):
// prefixes (segment, 67, 66, F3, LOCK for %cr8, REX), opcode, ModRM/SIB, displacement and
// immediates, with fixups where a value is not known yet (SDM Vol. 2 §2.1-2.2, Tables 2-1..2-3).

import type { X86Seg } from "../../env.js";
import type { OperandForm, X86Spec } from "../types.js";
import { ADDRESS_SIZE_IGNORED, SEG_ORDER } from "../types.js";
import { symbolsOf, type Expr } from "../../../core/asm-expr.js";
import type { AsmOperand } from "./operands.js";
import { fits, immediateValue, writeLE } from "./immediates.js";
import { Mismatch, modeDefault, SUFFIX_SIZED, V_FORMS, type EncodeContext, type Encoding, type Fixup, type Reg } from "./encoding.js";

/**
 * One instruction being laid out for table entry `spec` at operand size `v` (bytes): `operand`
 * places each operand (in Intel order) in ModRM, SIB, REX or an immediate, `finish` writes the
 * bytes; both return a Mismatch when the operands cannot be encoded so.
 */
export class Builder {
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
      if (op.kind === "reg" && this.spec.mod === "mem") return new Mismatch("operand type mismatch");
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
      case "AL": case "AX": case "rAX": case "eAX": case "CL": case "DX": {
        if (f === "DX" && op.kind === "mem" && op.base?.reg === 2 && op.base.size === 2 && !op.index && !op.disp && !op.seg) return undefined;
        const want = f === "AL" || f === "CL" ? 1 : f === "DX" || f === "AX" ? 2 : v;
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
      case "Xb": case "Xv": case "Yb": case "Yv": case "Bb": {
        if (op.kind !== "mem" || !op.base || op.index || op.disp) return new Mismatch(f === "Bb" ? "xlat's operand must be (%rbx)" : "string operand must be (%rsi) or (%rdi)");
        const want = f === "Bb" ? 3 : f[0] === "X" ? 6 : 7;
        if (op.base.reg !== want) return new Mismatch("string operand must be (%rsi) or (%rdi)");
        if (f[0] === "Y" && op.seg && op.seg !== "es") return new Mismatch("destination string operand must use %es");
        const as = op.base.size;
        const clash = this.addressRegisters(as, op.text);
        if (clash) return clash;
        this.addrSize = as;
        if ((f[0] === "X" || f === "Bb") && op.seg && op.seg !== "ds") this.seg = op.seg;
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

