// Data processing (register): Arm ARM C4.1.87 — logical and add/sub (shifted register),
// add/sub (extended register), add/sub with carry, conditional compare and select,
// data processing 1-, 2- and 3-source; with objdump's preferred aliases (MOV, MVN, TST, CMP,
// CMN, NEG, NEGS, CSET, CSETM, CINC, CINV, CNEG, MUL, MNEG, SMULL, UMULL, LSL/LSR/ASR/ROR).

import { A64BuildError, type A64Fields, type A64Ops } from "../types.js";
import { konst64, type Gen, type Val } from "../gen.js";
import { fieldsAsOps, num, ufit, type Decl } from "./common.js";

const decls: Decl[] = [];
const b2 = (v: number) => `${v >> 1}${v & 1}`;

// ---- shifted register operands: `{, <shift> #<imm6>}` hidden when LSL #0
const shiftedView = (f: A64Fields): A64Ops => {
  const o = fieldsAsOps(f);
  if (f.shift === 0 && f.imm6 === 0) (o.shift = undefined), (o.imm6 = undefined);
  return o;
};
function shiftedBuild(o: A64Ops, fixed: A64Fields, allowRor: boolean): A64Fields {
  const sf = num(o.sf, 1);
  const shift = num(o.shift);
  if (shift === 3 && !allowRor) throw new A64BuildError("ror is not allowed here", "add/sub shifted registers take lsl, lsr or asr");
  return { sf, shift, imm6: ufit(o.imm6, sf ? 6 : 5, "shift amount"), Rm: num(o.Rm), Rn: num(o.Rn), Rd: num(o.Rd), ...fixed };
}
const shiftOk = (f: A64Fields) => f.sf === 1 || f.imm6! < 32;
const SHIFTED = "{, <shift> #<imm6:d>}";

// ---- logical (shifted register)
const LOGICAL: [string, number, number][] = [["and", 0, 0], ["bic", 0, 1], ["orr", 1, 0], ["orn", 1, 1], ["eor", 2, 0], ["eon", 2, 1], ["ands", 3, 0], ["bics", 3, 1]];
decls.push(
  { name: "MOV_orr", aliasOf: "ORR_reg", pattern: "sf:1 01 01010 00 0 Rm:5 000000 11111 Rd:5", syntax: "mov <Rd>, <Rm>" },
  { name: "MVN_orn", aliasOf: "ORN_reg", pattern: "sf:1 01 01010 shift:2 1 Rm:5 imm6:6 11111 Rd:5", syntax: `mvn <Rd>, <Rm>${SHIFTED}`, when: shiftOk, view: shiftedView, build: (o) => shiftedBuild(o, { Rn: 31 }, true) },
  { name: "TST_reg", aliasOf: "ANDS_reg", pattern: "sf:1 11 01010 shift:2 0 Rm:5 imm6:6 Rn:5 11111", syntax: `tst <Rn>, <Rm>${SHIFTED}`, when: shiftOk, view: shiftedView, build: (o) => shiftedBuild(o, { Rd: 31 }, true) },
);
for (const [mn, opc, n] of LOGICAL) {
  decls.push({
    name: mn.toUpperCase() + "_reg", pattern: `sf:1 ${b2(opc)} 01010 shift:2 ${n} Rm:5 imm6:6 Rn:5 Rd:5`,
    syntax: `${mn} <Rd>, <Rn>, <Rm>${SHIFTED}`, when: shiftOk, view: shiftedView, build: (o) => shiftedBuild(o, {}, true),
    gen: (f, g) => {
      const b = g.shift(g.reg(f.Rm!, f.sf!), f.shift!, f.imm6!, f.sf!);
      const r = g.logic(opc === 0 || opc === 3 ? "&" : opc === 1 ? "|" : "^", g.reg(f.Rn!, f.sf!), b, f.sf!, n === 1, opc === 3);
      g.setReg(f.Rd!, r, f.sf!);
    },
  });
}

// ---- add/sub (shifted register) and (extended register)
const shiftedOk = (f: A64Fields) => f.shift !== 3 && shiftOk(f);
const extOk = (f: A64Fields) => f.imm3! <= 4;
/** Extended-register operand view: LSL instead of UXTX/UXTW when Rd or Rn is SP (Arm ARM C6.2.4). */
function extView(spInvolved: (f: A64Fields) => boolean) {
  return (f: A64Fields): A64Ops => {
    const o = fieldsAsOps(f);
    o["w:Rm"] = f.sf && (f.option! & 3) === 3 ? 64n : 32n; // a 32-bit operation always names Wm
    const lslForm = spInvolved(f) && f.option === (f.sf ? 3 : 2);
    o.ext = lslForm ? (f.imm3 ? 8n : undefined) : BigInt(f.option!);
    o.imm3 = f.imm3 ? BigInt(f.imm3) : undefined;
    return o;
  };
}
/** `sp`: the stack pointer is an operand (Rn, or Rd of a non-flag-setting form): only then is `lsl` an extend (Arm ARM C6.2.4). */
function extBuild(o: A64Ops, fixed: A64Fields, sp: boolean): A64Fields {
  const sf = num(o.sf, 1);
  if (o.ext === 8n && !sp) throw new A64BuildError("'lsl' is not allowed here", "an extended register takes lsl only with sp as Rd or Rn; write uxtw/uxtx");
  let option = o.ext === undefined || o.ext === 8n ? (sf ? 3 : 2) : Number(o.ext);
  // GNU as: a w register added to an x register needs its extend spelled out
  if (o.ext === undefined && o["w:Rm"] === 32n && sf) throw new A64BuildError("missing extend operator", "write the extend, e.g. `, uxtw` or `, sxtw`");
  const rmw = sf && (option & 3) === 3 ? 64n : 32n;
  // GNU as takes either width for Rm of a 64-bit operation when the extend is named (uxtb..sxtx):
  // the extend decides (gas/config/tc-aarch64.c); a 32-bit operation takes only w registers
  // `lsl` with a w register in a 64-bit operation is its 32-bit spelling, uxtw (GNU as)
  if (o.ext === 8n && sf && o["w:Rm"] === 32n) option = 2;
  if ((sf === 0 || o.ext === undefined) && (o["w:Rm"] ?? 64n) !== rmw) throw new A64BuildError(`the extend needs a ${rmw}-bit index register`, rmw === 64n ? "use an x register with uxtx/sxtx/lsl" : "use a w register with uxtb/uxth/uxtw/sxtb/sxth/sxtw");
  const imm3 = ufit(o.imm3, 3, "shift amount");
  if (imm3 > 4) throw new A64BuildError(`shift amount #${imm3} is out of range`, "extended registers shift by 0..4");
  return { sf, option, imm3, Rm: num(o.Rm), Rn: num(o.Rn), Rd: num(o.Rd), ...fixed };
}
const EXTENDED = "<Vm>{, <ext>{ #<imm3:d>}}";

for (const [mn, op, s] of [["add", 0, 0], ["adds", 0, 1], ["sub", 1, 0], ["subs", 1, 1]] as const) {
  const MN = mn.toUpperCase();
  if (s) {
    const cmp = op ? "cmp" : "cmn";
    decls.push(
      { name: `${cmp.toUpperCase()}_reg`, aliasOf: `${MN}_reg`, pattern: `sf:1 ${op} 1 01011 shift:2 0 Rm:5 imm6:6 Rn:5 11111`, syntax: `${cmp} <Rn>, <Rm>${SHIFTED}`, when: shiftedOk, view: shiftedView, build: (o) => shiftedBuild(o, { Rd: 31 }, false) },
      { name: `${cmp.toUpperCase()}_ext`, aliasOf: `${MN}_ext`, pattern: `sf:1 ${op} 1 01011 00 1 Rm:5 option:3 imm3:3 Rn:5 11111`, syntax: `${cmp} <Rn|sp>, ${EXTENDED}`, when: extOk, view: extView((f) => f.Rn === 31), build: (o) => extBuild(o, { Rd: 31 }, o.Rn === 31n) },
    );
  }
  if (op) {
    decls.push({ name: `NEG${s ? "S" : ""}_reg`, aliasOf: `${MN}_reg`, pattern: `sf:1 1 ${s} 01011 shift:2 0 Rm:5 imm6:6 11111 Rd:5`, syntax: `neg${s ? "s" : ""} <Rd>, <Rm>${SHIFTED}`, when: shiftedOk, view: shiftedView, build: (o) => shiftedBuild(o, { Rn: 31 }, false) });
  }
  decls.push({
    name: `${MN}_reg`, pattern: `sf:1 ${op} ${s} 01011 shift:2 0 Rm:5 imm6:6 Rn:5 Rd:5`,
    syntax: `${mn} <Rd>, <Rn>, <Rm>${SHIFTED}`, when: shiftedOk, view: shiftedView, build: (o) => shiftedBuild(o, {}, false),
    gen: (f, g) => {
      const b = g.shift(g.reg(f.Rm!, f.sf!), f.shift!, f.imm6!, f.sf!);
      g.setReg(f.Rd!, g.add(g.reg(f.Rn!, f.sf!), b, f.sf!, op === 1, s === 1), f.sf!);
    },
  });
  decls.push({
    name: `${MN}_ext`, pattern: `sf:1 ${op} ${s} 01011 00 1 Rm:5 option:3 imm3:3 Rn:5 Rd:5`,
    syntax: `${mn} ${s ? "<Rd>" : "<Rd|sp>"}, <Rn|sp>, ${EXTENDED}`, when: extOk,
    view: extView((f) => f.Rn === 31 || (!s && f.Rd === 31)), build: (o) => extBuild(o, {}, o.Rn === 31n || (!s && o.Rd === 31n)),
    gen: (f, g) => {
      const b = g.extend(g.reg(f.Rm!, 1), f.option!, f.imm3!);
      const r = g.add(g.reg(f.Rn!, f.sf!, true), b, f.sf!, op === 1, s === 1);
      g.setReg(f.Rd!, r, f.sf!, s === 0);
    },
  });
}

// ---- add/sub with carry
for (const [mn, op, s] of [["adc", 0, 0], ["adcs", 0, 1], ["sbc", 1, 0], ["sbcs", 1, 1]] as const) {
  if (op) decls.push({ name: `NGC${s ? "S" : ""}`, aliasOf: mn.toUpperCase(), pattern: `sf:1 1 ${s} 11010000 Rm:5 000000 11111 Rd:5`, syntax: `ngc${s ? "s" : ""} <Rd>, <Rm>` });
  decls.push({
    name: mn.toUpperCase(), pattern: `sf:1 ${op} ${s} 11010000 Rm:5 000000 Rn:5 Rd:5`, syntax: `${mn} <Rd>, <Rn>, <Rm>`,
    gen: (f, g) => {
      const r = g.add(g.reg(f.Rn!, f.sf!), g.reg(f.Rm!, f.sf!), f.sf!, op === 1, s === 1, g.carryFlag);
      g.setReg(f.Rd!, r, f.sf!);
    },
  });
}

// ---- conditional compare (register, immediate)
for (const [mn, op] of [["ccmn", 0], ["ccmp", 1]] as const) {
  for (const imm of [0, 1]) {
    decls.push({
      name: `${mn.toUpperCase()}_${imm ? "imm" : "reg"}`, pattern: `sf:1 ${op} 1 11010010 ${imm ? "imm5:5" : "Rm:5"} cond:4 ${imm} 0 Rn:5 0 nzcv:4`,
      syntax: `${mn} <Rn>, ${imm ? "#<imm5>" : "<Rm>"}, #<nzcv>, <cond>`,
      gen: (f, g) => {
        const a = g.reg(f.Rn!, f.sf!);
        const b = imm ? konst64(BigInt(f.imm5!)) : g.reg(f.Rm!, f.sf!);
        g.emit(`if (${g.cond(f.cond!)}) {`);
        g.add(a, b, f.sf!, op === 1, true);
        g.emit("} else {");
        g.setNzcv(f.nzcv!);
        g.emit("}");
      },
    });
  }
}

// ---- conditional select
const condOk = (f: A64Fields) => f.cond! >> 1 !== 7;
const invCondView = (f: A64Fields): A64Ops => ({ ...fieldsAsOps(f), cond: BigInt(f.cond! ^ 1) });
function invCondBuild(o: A64Ops, rm: number | "n", rn: number | "n"): A64Fields {
  const c = num(o.cond);
  if (c >> 1 === 7) throw new A64BuildError("condition al/nv is not allowed here", "use a condition other than al and nv");
  const n = num(o.Rn);
  return { sf: num(o.sf, 1), cond: c ^ 1, Rd: num(o.Rd), Rm: rm === "n" ? n : rm, Rn: rn === "n" ? n : rn };
}
const CSEL: [string, number, number, string, string][] = [["csel", 0, 0, "", ""], ["csinc", 0, 1, "cset", "cinc"], ["csinv", 1, 0, "csetm", "cinv"], ["csneg", 1, 1, "", "cneg"]];
for (const [mn, op, o2, set, inc] of CSEL) {
  const MN = mn.toUpperCase();
  if (set) decls.push({ name: `${set.toUpperCase()}`, aliasOf: MN, pattern: `sf:1 ${op} 0 11010100 11111 cond:4 0 ${o2} 11111 Rd:5`, syntax: `${set} <Rd>, <cond>`, when: condOk, view: invCondView, build: (o) => invCondBuild(o, 31, 31) });
  if (inc) decls.push({ name: `${inc.toUpperCase()}`, aliasOf: MN, pattern: `sf:1 ${op} 0 11010100 Rm:5 cond:4 0 ${o2} Rn:5 Rd:5`, syntax: `${inc} <Rd>, <Rn>, <cond>`, when: (f) => condOk(f) && f.Rm === f.Rn && (op === 1 && o2 === 1 ? true : f.Rn !== 31), view: invCondView, build: (o) => invCondBuild(o, "n", "n") });
  decls.push({
    name: MN, pattern: `sf:1 ${op} 0 11010100 Rm:5 cond:4 0 ${o2} Rn:5 Rd:5`, syntax: `${mn} <Rd>, <Rn>, <Rm>, <cond>`,
    gen: (f, g) => {
      const a = g.reg(f.Rn!, f.sf!);
      let b = g.reg(f.Rm!, f.sf!);
      if (op) b = g.not(b, f.sf!);
      if (o2) b = g.add(b, konst64(1n), f.sf!, false, false);
      const c = g.local();
      g.emit(`const ${c} = ${g.cond(f.cond!)};`);
      g.setReg(f.Rd!, g.bind(`${c} ? ${a.lo} : ${b.lo}`, `${c} ? ${a.hi} : ${b.hi}`), f.sf!);
    },
  });
}

// ---- data processing (3 source)
const THREE: [string, string, number, "any" | "long" | "high", string][] = [
  ["madd", "000", 0, "any", "mul"], ["msub", "000", 1, "any", "mneg"],
  ["smaddl", "001", 0, "long", "smull"], ["smsubl", "001", 1, "long", "smnegl"],
  ["umaddl", "101", 0, "long", "umull"], ["umsubl", "101", 1, "long", "umnegl"],
  ["smulh", "010", 0, "high", ""], ["umulh", "110", 0, "high", ""],
];
for (const [mn, op31, o0, kind, alias] of THREE) {
  const sf = kind === "any" ? "sf:1" : "1";
  const regs = kind === "long" ? ["<Xd>", "<Wn>", "<Wm>", "<Xa>"] : kind === "high" ? ["<Xd>", "<Xn>", "<Xm>"] : ["<Rd>", "<Rn>", "<Rm>", "<Ra>"];
  if (alias) decls.push({ name: alias.toUpperCase(), aliasOf: mn.toUpperCase(), pattern: `${sf} 00 11011 ${op31} Rm:5 ${o0} 11111 Rn:5 Rd:5`, syntax: `${alias} ${regs.slice(0, 3).join(", ")}` });
  decls.push({
    name: mn.toUpperCase(), pattern: `${sf} 00 11011 ${op31} Rm:5 ${o0} ${kind === "high" ? "ooooo" : "Ra:5"} Rn:5 Rd:5`,
    syntax: `${mn} ${regs.join(", ")}`,
    gen: (f, g) => {
      const sf = kind === "any" ? f.sf! : 1;
      if (kind === "high") {
        // The high half of a 128-bit product: done exactly with BigInt (a rare instruction).
        const a = g.reg(f.Rn!, 1), b = g.reg(f.Rm!, 1);
        const big = (v: { lo: string; hi: string }) => (op31 === "010" ? `BigInt.asIntN(64, H.big(${v.lo}, ${v.hi}))` : `H.big(${v.lo}, ${v.hi})`);
        const l = g.local();
        g.emit(`const ${l} = H.unbig((${big(a)} * ${big(b)}) >> 64n, O);`);
        g.setReg(f.Rd!, g.bind(l, "O[0]"), 1);
        return;
      }
      const a = g.reg(f.Rn!, kind === "long" ? 0 : sf), b = g.reg(f.Rm!, kind === "long" ? 0 : sf);
      // The low 64 bits of the product: lo*lo in full (imul + mulhi) plus the cross terms' low halves.
      const hiOf = kind === "long" ? (op31 === "001" ? `H.mulhiS32(${a.lo}, ${b.lo})` : `H.mulhiU32(${a.lo}, ${b.lo})`)
        : `H.mulhiU32(${a.lo}, ${b.lo}) + Math.imul(${a.lo}, ${b.hi}) + Math.imul(${a.hi}, ${b.lo})`;
      const p = g.bind(`Math.imul(${a.lo}, ${b.lo})`, sf ? hiOf : "0");
      g.setReg(f.Rd!, g.add(g.reg(f.Ra!, sf), p, sf, o0 === 1, false), sf);
    },
  });
}

// ---- data processing (2 source)
const TWO: [string, string, string][] = [["udiv", "000010", ""], ["sdiv", "000011", ""], ["lslv", "001000", "lsl"], ["lsrv", "001001", "lsr"], ["asrv", "001010", "asr"], ["rorv", "001011", "ror"]];
for (const [mn, opcode, alias] of TWO) {
  if (alias) decls.push({ name: `${alias.toUpperCase()}_${mn}`, aliasOf: mn.toUpperCase(), pattern: `sf:1 0 0 11010110 Rm:5 ${opcode} Rn:5 Rd:5`, syntax: `${alias} <Rd>, <Rn>, <Rm>` });
  decls.push({
    name: mn.toUpperCase(), pattern: `sf:1 0 0 11010110 Rm:5 ${opcode} Rn:5 Rd:5`, syntax: `${mn} <Rd>, <Rn>, <Rm>`,
    gen: (f, g) => {
      const sf = f.sf!;
      const a = g.reg(f.Rn!, sf), b = g.reg(f.Rm!, sf);
      if (mn !== "udiv" && mn !== "sdiv") return g.setReg(f.Rd!, g.shiftVar(a, parseInt(opcode.slice(4), 2), b, sf), sf);
      // Division by zero gives 0 (Arm ARM C6.2.{UDIV,SDIV}); results truncate toward zero, and
      // the one overflowing case (INT_MIN / -1) wraps to INT_MIN.
      if (!sf) {
        const q = mn === "udiv" ? `(${a.lo} >>> 0) / (${b.lo} >>> 0)` : `${a.lo} / ${b.lo}`;
        return g.setReg(f.Rd!, g.bind(`${b.lo} === 0 ? 0 : ${q}`, "0"), 0);
      }
      const big = (v: { lo: string; hi: string }) => (mn === "sdiv" ? `BigInt.asIntN(64, H.big(${v.lo}, ${v.hi}))` : `H.big(${v.lo}, ${v.hi})`);
      const l = g.local();
      g.emit(`const ${l} = (${b.lo} | ${b.hi}) === 0 ? (O[0] = 0) : H.unbig(${big(a)} / ${big(b)}, O);`);
      g.setReg(f.Rd!, g.bind(l, "O[0]"), 1);
    },
  });
}

// ---- data processing (1 source): Arm ARM C6.2.{RBIT,REV16,REV32,REV,CLZ,CLS}, on the 32-bit halves
// (H.rbit32 and H.bswap32 reverse the bits and the bytes of one half).
type Half = (x: string) => string;
const bswap: Half = (x) => `H.bswap32(${x})`;
const rev16: Half = (x) => `((${x} & 0x00ff00ff) << 8) | ((${x} >>> 8) & 0x00ff00ff)`;
/** Each entry: mnemonic, sf pattern, opcode, and the result's halves from the operand's (lo, hi) for 32 and 64 bits. */
const ONE: [string, string, string, (g: Gen, v: Val, sf: number) => Val][] = [
  ["rbit", "sf:1", "000000", (g, v, sf) => (sf ? g.bind(`H.rbit32(${v.hi})`, `H.rbit32(${v.lo})`) : g.bind(`H.rbit32(${v.lo})`, "0"))],
  ["rev16", "sf:1", "000001", (g, v, sf) => g.bind(rev16(v.lo), sf ? rev16(v.hi) : "0")],
  ["rev32", "1", "000010", (g, v) => g.bind(bswap(v.lo), bswap(v.hi))],
  ["rev", "0", "000010", (g, v) => g.bind(bswap(v.lo), "0")],
  ["rev", "1", "000011", (g, v) => g.bind(bswap(v.hi), bswap(v.lo))],
  ["clz", "sf:1", "000100", (g, v, sf) => g.bind(sf ? `${v.hi} !== 0 ? Math.clz32(${v.hi}) : 32 + Math.clz32(${v.lo})` : `Math.clz32(${v.lo})`, "0")],
  // CLS: leading bits equal to the top bit, not counting it = CLZ(x EOR (x ASR 1)) - 1.
  ["cls", "sf:1", "000101", (g, v, sf) => {
    if (!sf) return g.bind(`Math.clz32(${v.lo} ^ (${v.lo} >> 1)) - 1`, "0");
    const y = g.bind(`${v.lo} ^ ((${v.lo} >>> 1) | (${v.hi} << 31))`, `${v.hi} ^ (${v.hi} >> 1)`);
    return g.bind(`(${y.hi} !== 0 ? Math.clz32(${y.hi}) : 32 + Math.clz32(${y.lo})) - 1`, "0");
  }],
];
for (const [mn, sf, opcode, result] of ONE) {
  const regs = sf === "sf:1" ? "<Rd>, <Rn>" : sf === "1" ? "<Xd>, <Xn>" : "<Wd>, <Wn>";
  decls.push({
    name: `${mn.toUpperCase()}${sf === "sf:1" ? "" : sf === "1" ? "_x" : "_w"}`, pattern: `${sf} 1 0 11010110 00000 ${opcode} Rn:5 Rd:5`, syntax: `${mn} ${regs}`,
    gen: (f, g) => {
      const w = sf === "sf:1" ? f.sf! : Number(sf);
      g.setReg(f.Rd!, result(g, g.reg(f.Rn!, w), w), w);
    },
  });
}

export const dataProcessingRegister = decls;
