// Table-driven x86 decoder: prefixes (SDM Vol. 2 §2.1.1), REX (§2.2.1), opcode lookup in
// X86_TABLE, ModRM/SIB/displacement (Vol. 2 Tables 2-1..2-3; 16-bit forms Table 2-1), then the
// operands the table entry names. Never throws on garbage: anything the table does not describe
// decodes to UD_SPEC. Only `fetch` may throw (a guest fault while reading the instruction).

import type { X86Mode, X86Seg } from "../env.js";
import { UD_SPEC, X86_TABLE } from "./table.js";
import type { OperandForm, RegSize, X86Insn, X86Operand, X86Prefixes, X86Spec } from "./types.js";
import { SEG_ORDER } from "./types.js";

const MAX_LENGTH = 15;

/** Index keys of VEX-encoded rows start here (after the four legacy maps). */
const VEX_KEY = 1024;

/** Candidates by map*256 + opcode byte (+ VEX_KEY for VEX rows), in table order. */
const INDEX = new Map<number, X86Spec[]>();
for (const spec of X86_TABLE) {
  if (spec.asmOnly) continue;
  const n = spec.plusReg ? 8 : 1;
  for (let r = 0; r < n; r++) {
    const key = (spec.vex ? VEX_KEY : 0) + spec.map * 256 + spec.opcode + r;
    let list = INDEX.get(key);
    if (!list) INDEX.set(key, (list = []));
    list.push(spec);
  }
}

const SEG_PREFIX: Record<number, X86Seg> = { 0x26: "es", 0x2e: "cs", 0x36: "ss", 0x3e: "ds", 0x64: "fs", 0x65: "gs" };

class TooLong {}

/** Decode one instruction; `fetch(i)` returns the byte at rip + i. */
export function decodeX86(fetch: (offset: number) => number, mode: X86Mode): X86Insn {
  const bytes: number[] = [];
  const next = (): number => {
    if (bytes.length >= MAX_LENGTH) throw new TooLong();
    const b = fetch(bytes.length) & 0xff;
    bytes.push(b);
    return b;
  };
  const prefixes: X86Prefixes = { rep: false, repne: false, lock: false, seg: null, opsize: false, addrsize: false, rex: 0 };
  try {
    return decodeBody(next, mode, prefixes, bytes);
  } catch (err) {
    if (err instanceof TooLong) return undefinedInsn(mode, prefixes, bytes);
    throw err;
  }
}

function undefinedInsn(mode: X86Mode, prefixes: X86Prefixes, bytes: number[]): X86Insn {
  const base = mode === "real" || mode === "protected16" ? 2 : mode === "long64" ? 8 : 4;
  return {
    spec: UD_SPEC,
    operands: [],
    operandSize: mode === "real" || mode === "protected16" ? 2 : 4,
    addressSize: base as 2 | 4 | 8,
    prefixes,
    length: bytes.length,
    bytes: Uint8Array.from(bytes),
    mode,
  };
}

function decodeBody(next: () => number, mode: X86Mode, p: X86Prefixes, bytes: number[]): X86Insn {
  const is64 = mode === "long64";
  let b: number;
  for (;;) {
    b = next();
    if (b === 0x66) p.opsize = true;
    else if (b === 0x67) p.addrsize = true;
    else if (b === 0xf0) p.lock = true;
    else if (b === 0xf2) (p.repne = true), (p.rep = false);
    else if (b === 0xf3) (p.rep = true), (p.repne = false);
    else if (SEG_PREFIX[b] !== undefined) p.seg = SEG_PREFIX[b]!;
    else if (is64 && (b & 0xf0) === 0x40) {
      p.rex = b;
      continue;
    } else break;
    p.rex = 0; // a legacy prefix after REX cancels the REX (SDM Vol. 2 §2.2.1)
  }
  let map: 0 | 1 | 2 | 3 = 0;
  let opcode = b;
  let vex: { l: 0 | 1; vvvv: number } | undefined;
  let vexByte = -1;
  if ((b === 0xc4 || b === 0xc5) && !is64) {
    // Outside 64-bit mode C4/C5 are LES/LDS when the next byte (their ModRM) has mod != 3, and
    // always in real-address mode, where there is no VEX (SDM Vol. 2 §2.3.5): that byte is the ModRM.
    const b1 = next();
    if (b1 >> 6 !== 3 || mode === "real") {
      const rest = next;
      let given = false;
      next = () => (given ? rest() : ((given = true), b1));
    } else vexByte = b1;
  }
  if ((b === 0xc4 || b === 0xc5) && (is64 || vexByte >= 0)) {
    // VEX (SDM Vol. 2 §2.3.5, Figure 2-9): C5 R̄vvvvLpp, or C4 R̄X̄B̄mmmmm Wvvvv̄Lpp. A 66, F2, F3,
    // LOCK or REX prefix before VEX is #UD (§2.3.2).
    const b1 = vexByte >= 0 ? vexByte : next();
    if (p.opsize || p.rep || p.repne || p.lock || p.rex) return undefinedInsn(mode, p, bytes);
    let rxb: number;
    let mmmmm = 1;
    let b2 = b1;
    if (b === 0xc4) {
      rxb = (~b1 >> 5) & 7;
      mmmmm = b1 & 0x1f;
      b2 = next();
    } else rxb = (~b1 >> 5) & 4;
    if (mmmmm < 1 || mmmmm > 3) return undefinedInsn(mode, p, bytes);
    const w = b === 0xc4 ? (b2 >> 7) & 1 : 0;
    vex = { l: ((b2 >> 2) & 1) as 0 | 1, vvvv: (~b2 >> 3) & 0xf };
    const pp = b2 & 3;
    p.opsize = pp === 1;
    p.rep = pp === 2;
    p.repne = pp === 3;
    p.rex = is64 ? 0x40 | (w << 3) | rxb : 0;
    map = mmmmm as 1 | 2 | 3;
    opcode = next();
  } else if (b === 0x0f) {
    const b2 = next();
    if (b2 === 0x38 || b2 === 0x3a) {
      map = b2 === 0x38 ? 2 : 3;
      opcode = next();
    } else {
      map = 1;
      opcode = b2;
    }
  }
  const candidates = INDEX.get((vex ? VEX_KEY : 0) + map * 256 + opcode);
  if (!candidates) return undefinedInsn(mode, p, bytes);

  const rexW = (p.rex & 8) !== 0;
  const rexR = (p.rex & 4) !== 0 ? 8 : 0;
  const rexX = (p.rex & 2) !== 0 ? 8 : 0;
  const rexB = (p.rex & 1) !== 0 ? 8 : 0;
  const defaultSize = mode === "real" || mode === "protected16" ? 2 : 4;
  let baseOsize: 2 | 4 | 8 = p.opsize ? (defaultSize === 2 ? 4 : 2) : defaultSize;
  if (is64 && rexW) baseOsize = 8;
  // The operand size when 66 is a mandatory prefix (SSE forms): as without it.
  const sseOsize: 2 | 4 | 8 = is64 && rexW ? 8 : defaultSize;
  const addressSize: 2 | 4 | 8 = is64 ? (p.addrsize ? 4 : 8) : mode === "real" || mode === "protected16" ? (p.addrsize ? 4 : 2) : p.addrsize ? 2 : 4;

  const needsModrm = candidates.some((s) => s.modrm);
  const modrm = needsModrm ? next() : 0;
  const mod = modrm >> 6;
  const regField = (modrm >> 3) & 7;
  const rmField = modrm & 7;

  const spec = candidates.find((s) => {
    if (s.modrm) {
      if (s.ext !== undefined && s.ext !== regField) return false;
      if (s.mod === "mem" && mod === 3) return false;
      if (s.mod === "reg" && mod !== 3) return false;
      if (s.rm !== undefined && s.rm !== rmField) return false;
    }
    if (s.vexL !== undefined && s.vexL !== vex?.l) return false;
    if (s.modes === "i64" && is64) return false;
    if (s.modes === "o64" && !is64) return false;
    if (s.prefix === 0xf3 && !p.rep) return false;
    if (s.prefix === 0xf2 && !p.repne) return false;
    if (s.prefix === 0x66 && (!p.opsize || p.rep || p.repne)) return false;
    if (s.prefix === "np" && (p.opsize || p.rep || p.repne)) return false;
    if (s.prefix === "none" && p.rep) return false;
    if (s.prefix === "norep" && (p.rep || p.repne)) return false;
    if (s.no66 && p.opsize) return false;
    if (s.noRexB && rexB) return false;
    if (s.osize !== undefined && s.osize !== (s.prefix === 0x66 ? sseOsize : baseOsize) * 8) return false;
    return true;
  });
  if (!spec) return undefinedInsn(mode, p, bytes);
  if (spec.prefix === 0x66) (p.opsize = false), (baseOsize = sseOsize); // mandatory prefix, not an operand-size override
  if (spec.prefix === 0xf2) p.repne = false;

  let operandSize = baseOsize;
  if (is64 && !rexW) {
    if (spec.size64 === "f64") operandSize = 8;
    else if (spec.size64 === "d64" && !p.opsize) operandSize = 8;
  }
  if (spec.prefix === 0xf3) p.rep = false; // mandatory prefix, not a repeat
  // Port I/O is at most 32 bits wide: REX.W does not make INS/OUTS 64-bit (SDM Vol. 2 INS/OUTS).
  if ((spec.sem === "ins" || spec.sem === "outs") && operandSize === 8) operandSize = 4;

  // Memory operand from ModRM (+SIB, displacement), read in encoding order before immediates.
  let mem: Extract<X86Operand, { kind: "mem" }> | null = null;
  if (spec.modrm && mod !== 3 && spec.operands.some(usesRmMemory)) {
    mem = decodeModrmMemory(next, mod, rmField, addressSize, is64, rexX, rexB, p.seg);
  }

  const operands: X86Operand[] = [];
  const reg8 = (n: number): X86Operand =>
    !p.rex && n >= 4 && n < 8 ? { kind: "reg", reg: n - 4, size: 1, high8: true } : { kind: "reg", reg: n, size: 1 };
  const rmOperand = (size: number): X86Operand | null => {
    if (mod === 3) {
      const n = rmField | rexB;
      return size === 1 ? reg8(n) : { kind: "reg", reg: n, size: size as RegSize };
    }
    return mem ? { ...mem, size } : null;
  };
  const imm = (n: number): bigint => {
    let v = 0n;
    for (let i = 0; i < n; i++) v |= BigInt(next()) << BigInt(8 * i);
    return v;
  };
  const sext = (v: bigint, fromBytes: number, toBytes: number): bigint => {
    const bits = BigInt(fromBytes * 8);
    const signed = v & (1n << (bits - 1n)) ? v - (1n << bits) : v;
    return signed & ((1n << BigInt(toBytes * 8)) - 1n);
  };
  const signed = (v: bigint, n: number): bigint => {
    const bits = BigInt(n * 8);
    return v & (1n << (bits - 1n)) ? v - (1n << bits) : v;
  };
  const osz = operandSize as RegSize;
  const stringMem = (seg: X86Seg, override: boolean, base: number, size: number): X86Operand => ({
    kind: "mem", seg, segOverride: override, base, index: null, scale: 1, disp: 0n, dispBytes: 0, ripRelative: false, addrSize: addressSize, size,
  });

  for (const form of spec.operands) {
    let op: X86Operand | null = null;
    switch (form as OperandForm) {
      case "Eb": op = rmOperand(1); break;
      case "Ew": op = rmOperand(2); break;
      case "Ed": op = rmOperand(4); break;
      case "Ev": op = rmOperand(osz); break;
      case "Gb": op = reg8(regField | rexR); break;
      case "Gw": op = { kind: "reg", reg: regField | rexR, size: 2 }; break;
      case "Gv": op = { kind: "reg", reg: regField | rexR, size: osz }; break;
      case "Gy": op = { kind: "reg", reg: regField | rexR, size: osz === 8 ? 8 : 4 }; break;
      case "Ib": op = { kind: "imm", value: imm(1), size: 1 }; break;
      case "Iw": op = { kind: "imm", value: imm(2), size: 2 }; break;
      case "Iz": {
        const n = osz === 2 ? 2 : 4;
        op = { kind: "imm", value: sext(imm(n), n, osz), size: osz };
        break;
      }
      case "Iv": op = { kind: "imm", value: imm(osz), size: osz }; break;
      case "Ibs": op = { kind: "imm", value: sext(imm(1), 1, osz), size: osz }; break;
      case "Jb": op = { kind: "rel", disp: signed(imm(1), 1), size: 1 }; break;
      case "Jz": {
        const n = osz === 2 ? 2 : 4;
        op = { kind: "rel", disp: signed(imm(n), n), size: n };
        break;
      }
      case "Zb": op = reg8((opcode & 7) | rexB); break;
      case "Zv": op = { kind: "reg", reg: (opcode & 7) | rexB, size: osz }; break;
      case "AL": op = { kind: "reg", reg: 0, size: 1 }; break;
      case "AX": op = { kind: "reg", reg: 0, size: 2 }; break;
      case "rAX": op = { kind: "reg", reg: 0, size: osz }; break;
      case "eAX": op = { kind: "reg", reg: 0, size: osz === 2 ? 2 : 4 }; break;
      case "DX": op = { kind: "reg", reg: 2, size: 2 }; break;
      case "CL": op = { kind: "reg", reg: 1, size: 1 }; break;
      case "One": op = { kind: "imm", value: 1n, size: 1 }; break;
      case "Sw": op = regField < 6 ? { kind: "sreg", seg: SEG_ORDER[regField]!, n: regField } : null; break;
      case "ES": case "CS": case "SS": case "DS": case "FS": case "GS": {
        const n = SEG_ORDER.indexOf(form.toLowerCase() as X86Seg);
        op = { kind: "sreg", seg: SEG_ORDER[n]!, n };
        break;
      }
      case "Cy": {
        const n = regField | rexR;
        op = n === 0 || n === 2 || n === 3 || n === 4 || n === 8 ? { kind: "cr", n } : null;
        break;
      }
      case "Dy": op = rexR ? null : { kind: "dr", n: regField }; break;
      case "Ry": op = { kind: "reg", reg: rmField | rexB, size: is64 ? 8 : 4 }; break;
      case "Rv": op = { kind: "reg", reg: rmField | rexB, size: osz }; break;
      case "M": op = mem ? { ...mem, size: 0 } : null; break;
      case "Mw": op = mem ? { ...mem, size: 2 } : null; break;
      case "Ms": op = mem ? { ...mem, size: is64 ? 10 : 6 } : null; break;
      case "Mp": op = mem ? { ...mem, size: 2 + osz } : null; break;
      case "Ob": case "Ov": {
        const disp = imm(addressSize);
        op = {
          kind: "mem", seg: p.seg ?? "ds", segOverride: p.seg !== null, base: null, index: null, scale: 1,
          disp, dispBytes: addressSize, ripRelative: false, addrSize: addressSize, size: form === "Ob" ? 1 : osz,
        };
        break;
      }
      case "Ap": {
        const offset = imm(osz === 2 ? 2 : 4);
        const selector = Number(imm(2));
        op = { kind: "far", selector, offset };
        break;
      }
      case "Xb": op = stringMem(p.seg ?? "ds", p.seg !== null, 6, 1); break;
      case "Bb": op = stringMem(p.seg ?? "ds", p.seg !== null, 3, 1); break;
      case "Xv": op = stringMem(p.seg ?? "ds", p.seg !== null, 6, osz); break;
      case "Yb": op = stringMem("es", false, 7, 1); break;
      case "Yv": op = stringMem("es", false, 7, osz); break;
      case "Vx": op = { kind: "xmm", n: regField | rexR, ...(vex?.l ? { ymm: true } : {}) }; break;
      case "Wx": op = mod === 3 ? { kind: "xmm", n: rmField | rexB, ...(vex?.l ? { ymm: true } : {}) } : mem ? { ...mem, size: vex?.l ? 32 : 16 } : null; break;
      case "Wq": op = mod === 3 ? { kind: "xmm", n: rmField | rexB } : mem ? { ...mem, size: 8 } : null; break;
      case "Wd": op = mod === 3 ? { kind: "xmm", n: rmField | rexB } : mem ? { ...mem, size: 4 } : null; break;
      case "Mx": op = mem ? { ...mem, size: vex?.l ? 32 : 16 } : null; break;
      case "Md": op = mem ? { ...mem, size: 4 } : null; break;
    }
    if (!op) return undefinedInsn(mode, p, bytes);
    operands.push(op);
  }
  const insn: X86Insn = { spec, operands, operandSize, addressSize, prefixes: p, length: bytes.length, bytes: Uint8Array.from(bytes), mode };
  if (vex) {
    insn.vex = vex;
    // The prefix flags stood for VEX.pp and the REX bits for VEX.RXBW while matching; the
    // instruction itself had no such prefix bytes.
    p.opsize = p.rep = p.repne = false;
    p.rex = 0;
  }
  return insn;
}

function usesRmMemory(f: OperandForm): boolean {
  return f === "Eb" || f === "Ew" || f === "Ed" || f === "Ev" || f === "M" || f === "Mw" || f === "Ms" || f === "Mp" || f === "Wx" || f === "Wq" || f === "Wd" || f === "Mx" || f === "Md";
}

/** ModRM/SIB memory forms, SDM Vol. 2 Tables 2-1 (16-bit), 2-2 (32-bit) and 2-3 (SIB), §2.2.1.6 (RIP-relative). */
function decodeModrmMemory(
  next: () => number, mod: number, rm: number, addrSize: 2 | 4 | 8, is64: boolean, rexX: number, rexB: number, segOverride: X86Seg | null,
): Extract<X86Operand, { kind: "mem" }> {
  let dispBytes = 0;
  const readDisp = (n: number): bigint => {
    dispBytes = n;
    let v = 0n;
    for (let i = 0; i < n; i++) v |= BigInt(next()) << BigInt(8 * i);
    const bits = BigInt(n * 8);
    return v & (1n << (bits - 1n)) ? v - (1n << bits) : v;
  };
  let base: number | null = null;
  let index: number | null = null;
  let scale: 1 | 2 | 4 | 8 = 1;
  let disp = 0n;
  let ripRelative = false;
  let defaultSeg: X86Seg = "ds";
  if (addrSize === 2) {
    const table: [number | null, number | null][] = [[3, 6], [3, 7], [5, 6], [5, 7], [6, null], [7, null], [5, null], [3, null]];
    [base, index] = table[rm]!;
    if (mod === 0 && rm === 6) {
      base = null;
      disp = readDisp(2);
    } else if (mod === 1) disp = readDisp(1);
    else if (mod === 2) disp = readDisp(2);
    if (base === 5) defaultSeg = "ss";
  } else {
    if (rm === 4) {
      const sib = next();
      scale = (1 << (sib >> 6)) as 1 | 2 | 4 | 8;
      const idx = ((sib >> 3) & 7) | rexX;
      index = idx === 4 ? null : idx;
      const b = sib & 7;
      if (b === 5 && mod === 0) {
        base = null;
        disp = readDisp(4);
      } else base = b | rexB;
      if (b === 4 || (b === 5 && mod !== 0)) defaultSeg = "ss";
    } else if (rm === 5 && mod === 0) {
      disp = readDisp(4);
      ripRelative = is64;
    } else {
      base = rm | rexB;
      if (rm === 5) defaultSeg = "ss";
    }
    if (mod === 1) disp = readDisp(1);
    else if (mod === 2) disp = readDisp(4);
  }
  return {
    kind: "mem", seg: segOverride ?? defaultSeg, segOverride: segOverride !== null, base, index, scale, disp, dispBytes, ripRelative, addrSize, size: 0,
  };
}
