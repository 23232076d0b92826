// Data processing (immediate): Arm ARM C4.1.86 — add/sub immediate, logical immediate, move
// wide, bitfield, extract, PC-relative addressing; with the preferred aliases objdump prints
// (Arm ARM C6.2: MOV, CMP, CMN, TST, LSL, LSR, ASR, UBFX, SBFX, UBFIZ, SBFIZ, BFI, BFXIL, UXTB,
// UXTH, SXTB, SXTH, SXTW, ROR).

import { A64BuildError, type A64Fields, type A64Ops } from "../types.js";
import { bitmaskValue, decodeBitMasks, encodeBitmask, widthOf } from "../alu.js";
import { maskOf } from "../../../core/bits.js";
import { konst64, ZERO } from "../gen.js";
import { fieldsAsOps, fmt, num, pcDiff, sext, sfit, ufit, type Decl } from "./common.js";

const decls: Decl[] = [];

// ---- add/sub (immediate)
function addsubImmBuild(o: A64Ops): A64Fields {
  let imm = o.imm12 ?? 0n;
  let sh = 0;
  if (o.shift !== undefined) {
    if (o.shift !== 0n && o.shift !== 12n) throw new A64BuildError(`shift #${o.shift} is not allowed`, "add/sub immediates take lsl #0 or lsl #12");
    sh = o.shift === 12n ? 1 : 0;
  } else if (imm > 0xfffn && (imm & 0xfffn) === 0n && imm >> 12n <= 0xfffn) {
    imm >>= 12n;
    sh = 1;
  }
  return { sf: num(o.sf, 1), sh, imm12: ufit(imm, 12, "immediate"), Rn: num(o.Rn), Rd: num(o.Rd, 31) };
}
const addsubImmView = (f: A64Fields): A64Ops => ({ ...fieldsAsOps(f), shift: f.sh ? 12n : undefined });
/**
 * GNU as (tc-aarch64.c, "add/sub with a negative immediate"): add/adds/cmn with #-imm assemble as
 * sub/subs/cmp with #imm, and the other way round; assembler-only entries in the opposite opcode.
 */
function negatedBuild(o: A64Ops): A64Fields {
  const imm = o.imm12 ?? 0n;
  if (imm >= 0n) return addsubImmBuild(o); // the same "out of range" as the entry itself
  return addsubImmBuild({ ...o, imm12: -imm });
}
const OPPOSITE = { add: ["sub", 1], adds: ["subs", 1], sub: ["add", 0], subs: ["adds", 0], cmp: ["cmn", 0], cmn: ["cmp", 1] } as const;

for (const [mn, op, s] of [["add", 0, 0], ["adds", 0, 1], ["sub", 1, 0], ["subs", 1, 1]] as const) {
  if (mn === "add") {
    decls.push({
      name: "MOV_addimm", aliasOf: "ADD_imm", pattern: "sf:1 0 0 100010 0 000000000000 Rn:5 Rd:5",
      syntax: "mov <Rd|sp>, <Rn|sp>", when: (f) => f.Rd === 31 || f.Rn === 31,
      build: (o) => {
        if (o.Rd !== 31n && o.Rn !== 31n) throw new A64BuildError("mov between general registers is orr");
        return { sf: num(o.sf, 1), Rn: num(o.Rn), Rd: num(o.Rd) };
      },
    });
  }
  if (s === 1) {
    decls.push({
      name: mn === "subs" ? "CMP_imm" : "CMN_imm", aliasOf: mn.toUpperCase() + "_imm",
      pattern: `sf:1 ${op} 1 100010 sh:1 imm12:12 Rn:5 11111`,
      syntax: `${mn === "subs" ? "cmp" : "cmn"} <Rn|sp>, #<imm12>{, lsl #<shift:d>}`, view: addsubImmView,
      build: (o) => addsubImmBuild({ ...o, Rd: 31n }),
    });
  }
  decls.push({
    name: mn.toUpperCase() + "_imm", pattern: `sf:1 ${op} ${s} 100010 sh:1 imm12:12 Rn:5 Rd:5`,
    syntax: `${mn} ${s ? "<Rd>" : "<Rd|sp>"}, <Rn|sp>, #<imm12>{, lsl #<shift:d>}`,
    view: addsubImmView, build: addsubImmBuild,
    gen: (f, g) => {
      const a = g.reg(f.Rn!, f.sf!, true);
      const r = g.add(a, konst64(BigInt(f.imm12!) << BigInt(f.sh! * 12)), f.sf!, op === 1, s === 1);
      g.setReg(f.Rd!, r, f.sf!, s === 0);
    },
  });
}

for (const [mn, [, op]] of Object.entries(OPPOSITE)) {
  const s = mn === "adds" || mn === "subs" || mn === "cmp" || mn === "cmn" ? 1 : 0;
  const cmp = mn === "cmp" || mn === "cmn";
  decls.push({
    name: `${mn.toUpperCase()}_imm_negated`, asmOnly: true,
    pattern: `sf:1 ${op} ${s} 100010 sh:1 imm12:12 Rn:5 ${cmp ? "11111" : "Rd:5"}`,
    syntax: cmp ? `${mn} <Rn|sp>, #<imm12>{, lsl #<shift:d>}` : `${mn} ${s ? "<Rd>" : "<Rd|sp>"}, <Rn|sp>, #<imm12>{, lsl #<shift:d>}`,
    build: (o) => negatedBuild(cmp ? { ...o, Rd: 31n } : o),
  });
}

/**
 * GNU as (tc-aarch64.c, 32-bit immediates of mov and the logical instructions): a 64-bit value whose
 * upper half is all ones stands for its lower half (so #-1 and #0xffffffff00000001 work on w registers).
 */
function low32IfOnes(v: bigint, w: number): bigint {
  if (w !== 32) return v;
  const u = v < 0n && v >= -(1n << 64n) ? v & maskOf(64) : v;
  return u >> 32n === maskOf(32) ? u & maskOf(32) : v;
}

// ---- logical (immediate)
const validBitmask = (f: A64Fields) => (f.sf === 1 || f.N === 0) && bitmaskValue(f.N!, f.immr!, f.imms!, widthOf(f.sf!)) !== undefined;
const bitmaskView = (f: A64Fields): A64Ops => ({ ...fieldsAsOps(f), imm: bitmaskValue(f.N!, f.immr!, f.imms!, widthOf(f.sf!)) });
function bitmaskBuild(o: A64Ops, Rn: number, Rd: number): A64Fields {
  const sf = num(o.sf, 1);
  const w = widthOf(sf);
  let v = o.imm ?? 0n;
  if (v < 0n && v >= -(1n << BigInt(w))) v &= maskOf(w);
  v = low32IfOnes(v, w);
  const enc = v > maskOf(w) || v < 0n ? undefined : encodeBitmask(v, w);
  if (!enc) throw new A64BuildError(`immediate ${fmt(v)} cannot be encoded as a logical immediate`, "logical immediates are a rotated run of ones replicated in 2, 4, ..., 64-bit elements (not 0, not all ones)");
  return { sf, N: enc.n, immr: enc.immr, imms: enc.imms, Rn, Rd };
}

/** Arm ARM C6.2.191 MoveWidePreferred: MOV (bitmask) is preferred only when MOVZ/MOVN can't do it. */
function moveWidePreferred(sf: number, n: number, imms: number, immr: number): boolean {
  const w = widthOf(sf);
  if (sf === 1 && n !== 1) return false;
  if (sf === 0 && !(n === 0 && (imms & 0x20) === 0)) return false;
  if (imms < 16) return (-immr & 15) <= 15 - imms;
  if (imms >= w - 15) return (immr & 15) <= imms - (w - 15);
  return false;
}

decls.push({
  name: "TST_imm", aliasOf: "ANDS_imm", pattern: "sf:1 11 100100 N:1 immr:6 imms:6 Rn:5 11111",
  syntax: "tst <Rn>, #<imm>", when: validBitmask, view: bitmaskView, build: (o) => bitmaskBuild(o, num(o.Rn), 31),
});
for (const [mn, opc] of [["and", 0], ["orr", 1], ["eor", 2], ["ands", 3]] as const) {
  decls.push({
    name: mn.toUpperCase() + "_imm", pattern: `sf:1 ${opc >> 1}${opc & 1} 100100 N:1 immr:6 imms:6 Rn:5 Rd:5`,
    syntax: `${mn} ${opc === 3 ? "<Rd>" : "<Rd|sp>"}, <Rn>, #<imm>`, when: validBitmask, view: bitmaskView,
    build: (o) => bitmaskBuild(o, num(o.Rn), num(o.Rd)),
    gen: (f, g) => {
      const imm = konst64(bitmaskValue(f.N!, f.immr!, f.imms!, widthOf(f.sf!))!);
      const r = g.logic(opc === 0 || opc === 3 ? "&" : opc === 1 ? "|" : "^", g.reg(f.Rn!, f.sf!), imm, f.sf!, false, opc === 3);
      g.setReg(f.Rd!, r, f.sf!, opc !== 3);
    },
  });
}

// ---- move wide
function findHw(v: bigint, w: number): number | undefined {
  for (let hw = 0; hw < w / 16; hw++) if ((v & ~(0xffffn << BigInt(hw * 16))) === 0n) return hw;
  return undefined;
}
function movImmValue(o: A64Ops, sf: number): bigint {
  const w = widthOf(sf);
  let v = o.imm ?? 0n;
  if (v < 0n && v >= -(1n << BigInt(w - 1))) v &= maskOf(w);
  v = low32IfOnes(v, w);
  if (v < 0n || v > maskOf(w)) throw new A64BuildError(`immediate ${fmt(v)} does not fit a ${w}-bit register`);
  return v;
}
decls.push({
  name: "MOV_movz", aliasOf: "MOVZ", pattern: "sf:1 10 100101 hw:2 imm16:16 Rd:5",
  syntax: "mov <Rd>, #<imm>", when: (f) => !(f.imm16 === 0 && f.hw !== 0) && (f.sf === 1 || f.hw! < 2),
  view: (f) => ({ ...fieldsAsOps(f), imm: BigInt(f.imm16!) << BigInt(f.hw! * 16) }),
  build: (o) => {
    const sf = num(o.sf, 1);
    const v = movImmValue(o, sf);
    const hw = findHw(v, widthOf(sf));
    if (hw === undefined) throw new A64BuildError(`immediate ${fmt(v)} is not a movz immediate`);
    return { sf, hw, imm16: Number(v >> BigInt(hw * 16)), Rd: num(o.Rd) };
  },
});
decls.push({
  name: "MOV_movn", aliasOf: "MOVN", pattern: "sf:1 00 100101 hw:2 imm16:16 Rd:5",
  syntax: "mov <Rd>, #<imm>", when: (f) => !(f.imm16 === 0 && f.hw !== 0) && !(f.sf === 0 && f.imm16 === 0xffff) && (f.sf === 1 || f.hw! < 2),
  view: (f) => ({ ...fieldsAsOps(f), imm: ~(BigInt(f.imm16!) << BigInt(f.hw! * 16)) & maskOf(widthOf(f.sf!)) }),
  build: (o) => {
    const sf = num(o.sf, 1);
    const w = widthOf(sf);
    const v = ~movImmValue(o, sf) & maskOf(w);
    const hw = findHw(v, w);
    if (hw === undefined || (sf === 0 && v === 0xffffn)) throw new A64BuildError(`immediate ${fmt(o.imm ?? 0n)} is not a movn immediate`);
    return { sf, hw, imm16: Number(v >> BigInt(hw * 16)), Rd: num(o.Rd) };
  },
});
for (const [mn, opc] of [["movn", 0], ["movz", 2], ["movk", 3]] as const) {
  decls.push({
    name: mn.toUpperCase(), pattern: `sf:1 ${opc >> 1}${opc & 1} 100101 hw:2 imm16:16 Rd:5`,
    syntax: `${mn} <Rd>, #<imm16>{, lsl #<shift:d>}`, when: (f) => f.sf === 1 || f.hw! < 2,
    view: (f) => ({ ...fieldsAsOps(f), shift: f.hw ? BigInt(f.hw * 16) : undefined }),
    build: (o) => {
      const sf = num(o.sf, 1);
      // no implicit shift: GNU as rejects `movz x0, #0x10000` (write `mov x0, #0x10000` or `lsl #16`)
      const imm = o.imm16 ?? 0n;
      const sh = o.shift ?? 0n;
      if (sh % 16n !== 0n || sh < 0n || sh >= BigInt(widthOf(sf))) throw new A64BuildError(`shift #${sh} is not allowed`, `move-wide shifts are lsl #0, #16${sf ? ", #32, #48" : ""}`);
      return { sf, hw: Number(sh / 16n), imm16: ufit(imm, 16, "immediate"), Rd: num(o.Rd) };
    },
    gen: (f, g) => {
      const pos = BigInt(f.hw! * 16);
      const imm = BigInt(f.imm16!) << pos;
      if (opc === 3) {
        const kept = g.logic("&", g.reg(f.Rd!, f.sf!), konst64(~(0xffffn << pos)), f.sf!, false, false);
        g.setReg(f.Rd!, g.logic("|", kept, konst64(imm), f.sf!, false, false), f.sf!);
      } else g.setReg(f.Rd!, konst64(opc === 2 ? imm : ~imm), f.sf!);
    },
  });
}

// listed after MOV_movz/MOV_movn: the assembler tries `mov #imm` as movz, movn, then orr (as GNU as does)
const movOrrImm: Decl = {
  name: "MOV_orrimm", aliasOf: "ORR_imm", pattern: "sf:1 01 100100 N:1 immr:6 imms:6 11111 Rd:5",
  syntax: "mov <Rd|sp>, #<imm>", when: (f) => validBitmask(f) && !moveWidePreferred(f.sf!, f.N!, f.imms!, f.immr!),
  view: bitmaskView,
  build: (o) => {
    try {
      return bitmaskBuild(o, 31, num(o.Rd));
    } catch {
      throw new A64BuildError(`immediate ${fmt(o.imm ?? 0n)} cannot be moved by a single instruction`, "use movz followed by movk, or ldr x0, =value");
    }
  },
};

decls.push(movOrrImm);

// ---- bitfield
const bfOk = (f: A64Fields) => f.N === f.sf && (f.sf === 1 || (f.immr! < 32 && f.imms! < 32));
const wOf = (f: A64Fields) => widthOf(f.sf!);
/** Arm ARM C6.2.29 BFXPreferred. */
function bfxPreferred(sf: number, uns: number, imms: number, immr: number): boolean {
  if (imms < immr) return false;
  if (imms === widthOf(sf) - 1) return false;
  if (immr === 0) {
    if (sf === 0 && (imms === 7 || imms === 15)) return false;
    if (sf === 1 && uns === 0 && (imms === 7 || imms === 15 || imms === 31)) return false;
  }
  return true;
}
function bfFields(o: A64Ops, immr: number, imms: number): A64Fields {
  const sf = num(o.sf, 1);
  return { sf, N: sf, immr, imms, Rn: num(o.Rn), Rd: num(o.Rd) };
}
function checkLsbWidth(o: A64Ops): { w: number; lsb: number; width: number } {
  const w = widthOf(num(o.sf, 1));
  const lsb = Number(o.lsb ?? 0n);
  const width = Number(o.width ?? 1n);
  if (lsb < 0 || lsb >= w) throw new A64BuildError(`lsb #${lsb} is out of range`, `lsb must be 0..${w - 1}`);
  if (width < 1 || width > w - lsb) throw new A64BuildError(`width #${width} is out of range`, `width must be 1..${w - lsb} for lsb #${lsb}`);
  return { w, lsb, width };
}
const shiftAlias = (mn: string, base: string, opc: string, when: (f: A64Fields) => boolean, shiftOf: (f: A64Fields) => number, toFields: (o: A64Ops, w: number, sh: number) => [number, number]): Decl => ({
  name: `${mn.toUpperCase()}_${base.toLowerCase()}`, aliasOf: base, pattern: `sf:1 ${opc} 100110 N:1 immr:6 imms:6 Rn:5 Rd:5`,
  syntax: `${mn} <Rd>, <Rn>, #<shift:d>`, when: (f) => bfOk(f) && when(f),
  view: (f) => ({ ...fieldsAsOps(f), shift: BigInt(shiftOf(f)) }),
  build: (o) => {
    const w = widthOf(num(o.sf, 1));
    const sh = Number(o.shift ?? 0n);
    if (sh < 0 || sh >= w) throw new A64BuildError(`shift #${sh} is out of range`, `shift must be 0..${w - 1}`);
    const [immr, imms] = toFields(o, w, sh);
    return bfFields(o, immr, imms);
  },
});
const fieldAlias = (mn: string, base: string, opc: string, uns: number, kind: "x" | "iz"): Decl => ({
  name: `${mn.toUpperCase()}_${base.toLowerCase()}`, aliasOf: base, pattern: `sf:1 ${opc} 100110 N:1 immr:6 imms:6 Rn:5 Rd:5`,
  syntax: `${mn} <Rd>, <Rn>, #<lsb:d>, #<width:d>`,
  when: (f) => bfOk(f) && (kind === "iz" ? f.imms! < f.immr! : uns === 2 ? f.imms! >= f.immr! : bfxPreferred(f.sf!, uns, f.imms!, f.immr!)),
  view: (f) => ({
    ...fieldsAsOps(f),
    lsb: BigInt(kind === "iz" ? (wOf(f) - f.immr!) & (wOf(f) - 1) : f.immr!),
    width: BigInt(kind === "iz" ? f.imms! + 1 : f.imms! - f.immr! + 1),
  }),
  build: (o) => {
    const { w, lsb, width } = checkLsbWidth(o);
    return kind === "iz" ? bfFields(o, (w - lsb) & (w - 1), width - 1) : bfFields(o, lsb, lsb + width - 1);
  },
});
/** SXTB/SXTH/SXTW/UXTB/UXTH: fixed immr = 0 and imms = 7/15/31 (sf and N fixed too). */
const extAlias = (mn: string, base: string, opc: string, imms: number, sf: 0 | 1): Decl => ({
  name: `${mn.toUpperCase()}_${sf ? "x" : "w"}`, aliasOf: base,
  pattern: `${sf} ${opc} 100110 ${sf} 000000 ${imms.toString(2).padStart(6, "0")} Rn:5 Rd:5`,
  syntax: `${mn} ${sf ? "<Xd>" : "<Wd>"}, <Wn>`,
});

decls.push(
  shiftAlias("asr", "SBFM", "00", (f) => f.imms === wOf(f) - 1, (f) => f.immr!, (_o, w, sh) => [sh, w - 1]),
  fieldAlias("sbfiz", "SBFM", "00", 0, "iz"),
  fieldAlias("sbfx", "SBFM", "00", 0, "x"),
  extAlias("sxtb", "SBFM", "00", 7, 1), extAlias("sxtb", "SBFM", "00", 7, 0),
  extAlias("sxth", "SBFM", "00", 15, 1), extAlias("sxth", "SBFM", "00", 15, 0),
  extAlias("sxtw", "SBFM", "00", 31, 1),
  {
    // ARMv8.2 BFC (objdump prints it for BFM with Rn = zr whenever imms < immr)
    name: "BFC_bfm", aliasOf: "BFM", pattern: "sf:1 01 100110 N:1 immr:6 imms:6 11111 Rd:5", syntax: "bfc <Rd>, #<lsb:d>, #<width:d>",
    when: (f) => bfOk(f) && f.imms! < f.immr!,
    view: (f) => ({ ...fieldsAsOps(f), lsb: BigInt((wOf(f) - f.immr!) & (wOf(f) - 1)), width: BigInt(f.imms! + 1) }),
    build: (o) => { const { w, lsb, width } = checkLsbWidth(o); return { ...bfFields(o, (w - lsb) & (w - 1), width - 1), Rn: 31 }; },
  },
  fieldAlias("bfi", "BFM", "01", 2, "iz"),
  fieldAlias("bfxil", "BFM", "01", 2, "x"),
  shiftAlias("lsl", "UBFM", "10", (f) => f.imms !== wOf(f) - 1 && f.imms! + 1 === f.immr, (f) => wOf(f) - 1 - f.imms!, (_o, w, sh) => [(w - sh) & (w - 1), w - 1 - sh]),
  shiftAlias("lsr", "UBFM", "10", (f) => f.imms === wOf(f) - 1, (f) => f.immr!, (_o, w, sh) => [sh, w - 1]),
  fieldAlias("ubfiz", "UBFM", "10", 1, "iz"),
  fieldAlias("ubfx", "UBFM", "10", 1, "x"),
  extAlias("uxtb", "UBFM", "10", 7, 0),
  extAlias("uxth", "UBFM", "10", 15, 0),
  // GNU as accepts an x destination for uxtb/uxth and encodes the w form (writing a w register
  // zeroes the upper half, so the value is the same); `uxtw xd, wn` (or wd) is `mov wd, wn` (ORR).
  { ...extAlias("uxtb", "UBFM", "10", 7, 0), name: "UXTB_x_asm", asmOnly: true, syntax: "uxtb <Xd>, <Wn>" },
  { ...extAlias("uxth", "UBFM", "10", 15, 0), name: "UXTH_x_asm", asmOnly: true, syntax: "uxth <Xd>, <Wn>" },
  { name: "UXTW_x_asm", aliasOf: "ORR_reg", asmOnly: true, pattern: "0 01 01010 00 0 Rm:5 000000 11111 Rd:5", syntax: "uxtw <Vd>, <Wm>" },
);
for (const [mn, opc] of [["sbfm", 0], ["bfm", 1], ["ubfm", 2]] as const) {
  decls.push({
    name: mn.toUpperCase(), pattern: `sf:1 ${opc >> 1}${opc & 1} 100110 N:1 immr:6 imms:6 Rn:5 Rd:5`,
    syntax: `${mn} <Rd>, <Rn>, #<immr:d>, #<imms:d>`, when: bfOk,
    build: (o) => {
      const w = widthOf(num(o.sf, 1));
      return bfFields(o, ufit(o.immr, Math.log2(w), "immr"), ufit(o.imms, Math.log2(w), "imms"));
    },
    gen: (f, g) => {
      // Arm ARM C6.2.{SBFM,BFM,UBFM} Operation: bot = (dst AND NOT wmask) OR (ROR(src, immr) AND wmask);
      // top = replicated src<imms> (SBFM), dst (BFM) or zero (UBFM); result = top outside tmask, bot inside.
      const m = decodeBitMasks(f.N!, f.imms!, f.immr!, false, wOf(f))!;
      const sf = f.sf!;
      const src = g.reg(f.Rn!, sf);
      const dst = opc === 1 ? g.reg(f.Rd!, sf) : ZERO;
      const rot = g.extr(src, src, f.immr!, sf);
      const wm = konst64(m.wmask), nwm = konst64(~m.wmask), tm = konst64(m.tmask), ntm = konst64(~m.tmask);
      const bot = g.bind(`(${dst.lo} & ${nwm.lo}) | (${rot.lo} & ${wm.lo})`, `(${dst.hi} & ${nwm.hi}) | (${rot.hi} & ${wm.hi})`);
      let top = dst;
      if (opc === 0) {
        const s = f.imms!;
        const bit = s < 32 ? `-((${src.lo} >>> ${s}) & 1)` : `-((${src.hi} >>> ${s - 32}) & 1)`;
        top = g.bind(bit, bit);
      }
      g.setReg(f.Rd!, g.bind(`(${top.lo} & ${ntm.lo}) | (${bot.lo} & ${tm.lo})`, `(${top.hi} & ${ntm.hi}) | (${bot.hi} & ${tm.hi})`), sf);
    },
  });
}

// ---- extract
decls.push({
  name: "ROR_extr", aliasOf: "EXTR", pattern: "sf:1 00 100111 N:1 0 Rm:5 imms:6 Rn:5 Rd:5",
  syntax: "ror <Rd>, <Rn>, #<imms:d>", when: (f) => f.N === f.sf && f.Rn === f.Rm && (f.sf === 1 || f.imms! < 32),
  build: (o) => { const sf = num(o.sf, 1); return { sf, N: sf, Rm: num(o.Rn), imms: ufit(o.imms, sf ? 6 : 5, "shift"), Rn: num(o.Rn), Rd: num(o.Rd) }; },
});
decls.push({
  name: "EXTR", pattern: "sf:1 00 100111 N:1 0 Rm:5 imms:6 Rn:5 Rd:5",
  syntax: "extr <Rd>, <Rn>, <Rm>, #<imms:d>", when: (f) => f.N === f.sf && (f.sf === 1 || f.imms! < 32),
  build: (o) => { const sf = num(o.sf, 1); return { sf, N: sf, Rm: num(o.Rm), imms: ufit(o.imms, sf ? 6 : 5, "lsb"), Rn: num(o.Rn), Rd: num(o.Rd) }; },
  gen: (f, g) => g.setReg(f.Rd!, g.extr(g.reg(f.Rn!, f.sf!), g.reg(f.Rm!, f.sf!), f.imms!, f.sf!), f.sf!),
});

// ---- PC-relative addressing
for (const [mn, op] of [["adr", 0], ["adrp", 1]] as const) {
  decls.push({
    name: mn.toUpperCase(), pattern: `${op} immlo:2 10000 immhi:19 Rd:5`, syntax: `${mn} <Xd>, <label>`,
    view: (f, pc) => {
      const imm = sext((f.immhi! << 2) | f.immlo!, 21);
      return { ...fieldsAsOps(f), target: op ? ((pc & ~0xfffn) + (imm << 12n)) & maskOf(64) : (pc + imm) & maskOf(64) };
    },
    build: (o, pc) => {
      const t = o.target ?? 0n;
      let d: number;
      if (op) {
        d = sfit(pcDiff(t & ~0xfffn, pc & ~0xfffn), 21, 12, "page offset");
      } else d = sfit(pcDiff(t, pc), 21, 0, "offset");
      return { immlo: d & 3, immhi: d >>> 2, Rd: num(o.Rd) };
    },
    gen: (f, g) => {
      const imm = sext((f.immhi! << 2) | f.immlo!, 21);
      g.setReg(f.Rd!, konst64(op ? (g.pc & ~0xfffn) + (imm << 12n) : g.pc + imm), 1);
    },
  });
}

export const dataProcessingImmediate = decls;
