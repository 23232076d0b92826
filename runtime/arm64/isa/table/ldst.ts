// Loads and stores: Arm ARM C4.1.88 — load/store register (unsigned offset, pre/post-index,
// unscaled, register offset), load register (literal), load/store pair (offset, pre/post-index,
// non-temporal), load-acquire/store-release and exclusives. Every access goes through env.load/
// env.store with the A64MemAccess the data-abort syndrome needs (Arm ARM D17.2.37: ISV is 1 only
// for single general-purpose register accesses without writeback and not exclusive), and all
// memory accesses happen before any register is written, so a fault leaves registers unchanged.

import type { A64Env, A64MemAccess } from "../../env.js";
import { A64BuildError, type A64Fields, type A64Ops } from "../types.js";
import { maskOf } from "../../../core/bits.js";
import { Gen, konst64, type Val } from "../gen.js";
import { fieldsAsOps, num, pcDiff, rSP, rX, sext, sfit, ufit, wSP, wX, type Decl } from "./common.js";
import { checkExclusive, setExclusive } from "./system.js";

const decls: Decl[] = [];

/** One row per (size, opc) of the single-register forms: Arm ARM C4.1.88 "Load/store register". */
interface Kind { mn: string; unscaled: string; size: number; opc: number; load: boolean; signed: boolean; x: boolean }
const KINDS: Kind[] = [
  { mn: "strb", unscaled: "sturb", size: 0, opc: 0, load: false, signed: false, x: false },
  { mn: "ldrb", unscaled: "ldurb", size: 0, opc: 1, load: true, signed: false, x: false },
  { mn: "ldrsb", unscaled: "ldursb", size: 0, opc: 2, load: true, signed: true, x: true },
  { mn: "ldrsb", unscaled: "ldursb", size: 0, opc: 3, load: true, signed: true, x: false },
  { mn: "strh", unscaled: "sturh", size: 1, opc: 0, load: false, signed: false, x: false },
  { mn: "ldrh", unscaled: "ldurh", size: 1, opc: 1, load: true, signed: false, x: false },
  { mn: "ldrsh", unscaled: "ldursh", size: 1, opc: 2, load: true, signed: true, x: true },
  { mn: "ldrsh", unscaled: "ldursh", size: 1, opc: 3, load: true, signed: true, x: false },
  { mn: "str", unscaled: "stur", size: 2, opc: 0, load: false, signed: false, x: false },
  { mn: "ldr", unscaled: "ldur", size: 2, opc: 1, load: true, signed: false, x: false },
  { mn: "ldrsw", unscaled: "ldursw", size: 2, opc: 2, load: true, signed: true, x: true },
  { mn: "str", unscaled: "stur", size: 3, opc: 0, load: false, signed: false, x: true },
  { mn: "ldr", unscaled: "ldur", size: 3, opc: 1, load: true, signed: false, x: true },
];

const bits = (v: number, n: number) => v.toString(2).padStart(n, "0");

type Mode = "uimm" | "pre" | "post" | "unscaled" | "reg";

/** Do the access of a single-register load/store at `addr`, then write Rt (loads). */
function single(g: Gen, k: Kind, rt: number, addr: Val, syndromeValid: boolean, acqrel = false): void {
  const bytes = (1 << k.size) as 1 | 2 | 4 | 8;
  const a: A64MemAccess = { size: bytes, write: !k.load, rt, signed: k.signed, sf: k.x, acqrel, syndromeValid, mustAlign: acqrel };
  if (k.load) g.setReg(rt, g.load(addr, a), k.x);
  else g.store(addr, g.reg(rt, k.x), a);
}

function genFor(k: Kind, mode: Mode) {
  return (f: A64Fields, g: Gen): void => {
    if (f.Rn === 31) g.checkSp();
    const base = g.reg(f.Rn!, 1, true);
    switch (mode) {
      case "uimm": return single(g, k, f.Rt!, g.add(base, konst64(BigInt(f.imm12!) << BigInt(k.size)), 1, false, false), true);
      case "unscaled": return single(g, k, f.Rt!, g.add(base, konst64(sext(f.imm9!, 9)), 1, false, false), true);
      case "reg": {
        const off = g.extend(g.reg(f.Rm!, 1), f.option!, f.S ? k.size : 0);
        return single(g, k, f.Rt!, g.add(base, off, 1, false, false), true);
      }
      case "pre":
      case "post": {
        const wb = g.add(base, konst64(sext(f.imm9!, 9)), 1, false, false);
        single(g, k, f.Rt!, mode === "pre" ? wb : base, false);
        g.setReg(f.Rn!, wb, 1, true);
        return;
      }
    }
  };
}

const rt = (k: Kind) => (k.x ? "<Xt>" : "<Wt>");
const offView = (scale: number) => (f: A64Fields): A64Ops => {
  const o = fieldsAsOps(f);
  const off = f.imm12 !== undefined ? BigInt(f.imm12) << BigInt(scale) : sext(f.imm9!, 9);
  o.off = off === 0n ? undefined : off;
  return o;
};
const indexView = (f: A64Fields): A64Ops => ({ ...fieldsAsOps(f), off: sext(f.imm9!, 9) });

for (const k of KINDS) {
  const head = `${bits(k.size, 2)} 111 0`;
  const opc = bits(k.opc, 2);
  const N = `${k.mn.toUpperCase()}_${k.x ? "x" : "w"}`;
  const U = `${k.unscaled.toUpperCase()}_${k.x ? "x" : "w"}`;
  decls.push(
    {
      name: `${N}_uimm`, pattern: `${head} 01 ${opc} imm12:12 Rn:5 Rt:5`, syntax: `${k.mn} ${rt(k)}, [<Xn|sp>{, #<off:d>}]`,
      view: offView(k.size),
      build: (o) => {
        const off = o.off ?? 0n;
        if (off < 0n || off % (1n << BigInt(k.size)) !== 0n) throw new A64BuildError(`offset ${off} needs the unscaled form`);
        return { imm12: ufit(off >> BigInt(k.size), 12, "offset"), Rn: num(o.Rn), Rt: num(o.Rt) };
      },
      gen: genFor(k, "uimm"),
    },
    {
      // GNU as picks LDUR/STUR for `ldr x0, [x1, #-8]` and unaligned offsets
      name: `${N}_unscaled_asm`, asmOnly: true, pattern: `${head} 00 ${opc} 0 imm9:9 00 Rn:5 Rt:5`, syntax: `${k.mn} ${rt(k)}, [<Xn|sp>, #<off:d>]`,
      build: (o) => ({ imm9: sfit(o.off, 9, 0, "offset"), Rn: num(o.Rn), Rt: num(o.Rt) }),
    },
    {
      name: `${N}_pre`, pattern: `${head} 00 ${opc} 0 imm9:9 11 Rn:5 Rt:5`, syntax: `${k.mn} ${rt(k)}, [<Xn|sp>, #<off:d>]!`,
      view: indexView, build: (o) => ({ imm9: sfit(o.off, 9, 0, "offset"), Rn: num(o.Rn), Rt: num(o.Rt) }), gen: genFor(k, "pre"),
    },
    {
      name: `${N}_post`, pattern: `${head} 00 ${opc} 0 imm9:9 01 Rn:5 Rt:5`, syntax: `${k.mn} ${rt(k)}, [<Xn|sp>], #<off:d>`,
      view: indexView, build: (o) => ({ imm9: sfit(o.off, 9, 0, "offset"), Rn: num(o.Rn), Rt: num(o.Rt) }), gen: genFor(k, "post"),
    },
    {
      name: `${U}`, pattern: `${head} 00 ${opc} 0 imm9:9 00 Rn:5 Rt:5`, syntax: `${k.unscaled} ${rt(k)}, [<Xn|sp>{, #<off:d>}]`,
      view: offView(0), build: (o) => ({ imm9: sfit(o.off, 9, 0, "offset"), Rn: num(o.Rn), Rt: num(o.Rt) }), gen: genFor(k, "unscaled"),
    },
    {
      name: `${N}_reg`, pattern: `${head} 00 ${opc} 1 Rm:5 option:3 S:1 10 Rn:5 Rt:5`, syntax: `${k.mn} ${rt(k)}, [<Xn|sp>, <Vm>{, <ext>{ #<amt:d>}}]`,
      when: (f) => (f.option! & 2) !== 0,
      view: (f) => {
        const o = fieldsAsOps(f);
        o["w:Rm"] = f.option! & 1 ? 64n : 32n;
        o.ext = f.option === 3 ? (f.S ? 8n : undefined) : BigInt(f.option!);
        o.amt = f.S ? BigInt(k.size) : undefined;
        return o;
      },
      build: (o) => {
        const wide = o["w:Rm"] !== 32n;
        const option = o.ext === undefined || o.ext === 8n ? 3 : Number(o.ext);
        if ((option & 2) === 0) throw new A64BuildError("only uxtw, sxtw, sxtx and lsl are allowed here");
        if (((option & 1) === 1) !== wide) throw new A64BuildError(`the ${option & 1 ? "extend" : "extend"} needs a ${option & 1 ? "64" : "32"}-bit index register`, option & 1 ? "use an x register with lsl/sxtx" : "use a w register with uxtw/sxtw");
        let S = 0;
        if (o.amt !== undefined) {
          if (o.amt === BigInt(k.size)) S = 1;
          else if (o.amt !== 0n) throw new A64BuildError(`shift amount #${o.amt} is not allowed`, `${k.mn} scales the index by #0 or #${k.size}`);
        }
        return { Rm: num(o.Rm), option, S, Rn: num(o.Rn), Rt: num(o.Rt) };
      },
      gen: genFor(k, "reg"),
    },
  );
}

// ---- prefetch (PRFM/PRFUM): a hint; exitlab has no caches to warm, so nothing happens
const prfView = (scale: number) => (f: A64Fields): A64Ops => ({ ...offView(scale)(f), prfop: BigInt(f.Rt!) });
decls.push(
  {
    name: "PRFM_uimm", pattern: "11 111 0 01 10 imm12:12 Rn:5 Rt:5", syntax: "prfm <prfop>, [<Xn|sp>{, #<off:d>}]", view: prfView(3),
    build: (o) => {
      const off = o.off ?? 0n;
      if (off < 0n || off % 8n !== 0n) throw new A64BuildError(`offset ${off} needs prfum`, "prfm offsets are multiples of 8 in 0..32760; use prfum for others");
      return { imm12: ufit(off >> 3n, 12, "offset"), Rn: num(o.Rn), Rt: num(o.prfop) };
    },
    gen: () => {},
  },
  {
    name: "PRFUM", pattern: "11 111 0 00 10 0 imm9:9 00 Rn:5 Rt:5", syntax: "prfum <prfop>, [<Xn|sp>{, #<off:d>}]", view: prfView(0),
    build: (o) => ({ imm9: sfit(o.off, 9, 0, "offset"), Rn: num(o.Rn), Rt: num(o.prfop) }), gen: () => {},
  },
  {
    name: "PRFM_lit", pattern: "11 011 0 00 imm19:19 Rt:5", syntax: "prfm <prfop>, <label>",
    view: (f, pc) => ({ ...fieldsAsOps(f), prfop: BigInt(f.Rt!), target: (pc + (sext(f.imm19!, 19) << 2n)) & maskOf(64) }),
    build: (o, pc) => ({ imm19: sfit(pcDiff(o.target ?? 0n, pc), 19, 2, "literal offset"), Rt: num(o.prfop) }), gen: () => {},
  },
  {
    name: "PRFM_reg", pattern: "11 111 0 00 10 1 Rm:5 option:3 S:1 10 Rn:5 Rt:5", syntax: "prfm <prfop>, [<Xn|sp>, <Vm>{, <ext>{ #<amt:d>}}]",
    when: (f) => (f.option! & 2) !== 0,
    view: (f) => {
      const o = fieldsAsOps(f);
      o.prfop = BigInt(f.Rt!);
      o["w:Rm"] = f.option! & 1 ? 64n : 32n;
      o.ext = f.option === 3 ? (f.S ? 8n : undefined) : BigInt(f.option!);
      o.amt = f.S ? 3n : undefined;
      return o;
    },
    build: (o) => {
      const wide = o["w:Rm"] !== 32n;
      const option = o.ext === undefined || o.ext === 8n ? 3 : Number(o.ext);
      if ((option & 2) === 0 || ((option & 1) === 1) !== wide) throw new A64BuildError("bad index register extend", "use lsl/sxtx with an x register or uxtw/sxtw with a w register");
      const S = o.amt === 3n ? 1 : 0;
      if (o.amt !== undefined && o.amt !== 3n && o.amt !== 0n) throw new A64BuildError(`shift amount #${o.amt} is not allowed`, "prfm scales the index by #0 or #3");
      return { Rm: num(o.Rm), option, S, Rn: num(o.Rn), Rt: num(o.prfop) };
    },
    gen: () => {},
  },
);

// ---- load register (literal)
for (const [mn, opc, x, signed] of [["ldr", 0, false, false], ["ldr", 1, true, false], ["ldrsw", 2, true, true]] as const) {
  const k: Kind = { mn, unscaled: "", size: x && !signed ? 3 : 2, opc, load: true, signed, x };
  decls.push({
    name: `${mn.toUpperCase()}_${x ? "x" : "w"}_lit`, pattern: `${bits(opc, 2)} 011 0 00 imm19:19 Rt:5`, syntax: `${mn} ${rt(k)}, <label>`,
    view: (f, pc) => ({ ...fieldsAsOps(f), target: (pc + (sext(f.imm19!, 19) << 2n)) & maskOf(64) }),
    build: (o, pc) => {
      const t = o.target ?? 0n;
      if ((t & 3n) !== 0n) throw new A64BuildError(`literal address 0x${t.toString(16)} is not 4-byte aligned`);
      return { imm19: sfit(pcDiff(t, pc), 19, 2, "literal offset"), Rt: num(o.Rt) };
    },
    gen: (f, g) => single(g, k, f.Rt!, konst64(g.pc + (sext(f.imm19!, 19) << 2n)), true),
  });
}

// ---- load/store pair
interface PairKind { mn: string; opc: number; load: boolean; size: 4 | 8; signed: boolean; x: boolean }
const PAIRS: PairKind[] = [
  { mn: "stp", opc: 0, load: false, size: 4, signed: false, x: false },
  { mn: "ldp", opc: 0, load: true, size: 4, signed: false, x: false },
  { mn: "ldpsw", opc: 1, load: true, size: 4, signed: true, x: true },
  { mn: "stp", opc: 2, load: false, size: 8, signed: false, x: true },
  { mn: "ldp", opc: 2, load: true, size: 8, signed: false, x: true },
];
type PairMode = "offset" | "pre" | "post" | "nt";
function pairGen(k: PairKind, mode: PairMode) {
  const scale = k.size === 8 ? 3n : 2n;
  return (f: A64Fields, g: Gen): void => {
    if (f.Rn === 31) g.checkSp();
    const base = g.reg(f.Rn!, 1, true);
    const wb = g.add(base, konst64(sext(f.imm7!, 7) << scale), 1, false, false);
    const addr = mode === "post" ? base : wb;
    const acc = (rtn: number): A64MemAccess => ({ size: k.size, write: !k.load, rt: rtn, signed: k.signed, sf: k.x, acqrel: false, syndromeValid: false, mustAlign: false });
    const a2 = g.add(addr, konst64(BigInt(k.size)), 1, false, false);
    if (k.load) {
      // Both loads before any register write: a fault on the second leaves Rt unchanged.
      const v1 = g.load(addr, acc(f.Rt!));
      const v2 = g.load(a2, acc(f.Rt2!));
      g.setReg(f.Rt!, v1, k.x);
      g.setReg(f.Rt2!, v2, k.x);
    } else {
      const v1 = g.reg(f.Rt!, k.x), v2 = g.reg(f.Rt2!, k.x);
      g.store(addr, v1, acc(f.Rt!));
      g.store(a2, v2, acc(f.Rt2!));
    }
    if (mode === "pre" || mode === "post") g.setReg(f.Rn!, wb, 1, true);
  };
}
for (const k of PAIRS) {
  const r = k.x ? "<Xt>, <Xt2>" : "<Wt>, <Wt2>";
  const scale = k.size === 8 ? 3 : 2;
  const modes: [PairMode, string, string][] = [["offset", "010", "[<Xn|sp>{, #<off:d>}]"], ["pre", "011", "[<Xn|sp>, #<off:d>]!"], ["post", "001", "[<Xn|sp>], #<off:d>"]];
  if (k.opc !== 1) modes.push(["nt", "000", "[<Xn|sp>{, #<off:d>}]"]);
  for (const [mode, bitsMode, addr] of modes) {
    const mn = mode === "nt" ? k.mn.replace("p", "np") : k.mn;
    decls.push({
      name: `${mn.toUpperCase()}_${k.x ? "x" : "w"}${k.signed ? "" : ""}_${mode}`, pattern: `${bits(k.opc, 2)} 101 0 ${bitsMode} ${k.load ? 1 : 0} imm7:7 Rt2:5 Rn:5 Rt:5`,
      syntax: `${mn} ${r}, ${addr}`,
      // objdump treats LDPSW with Rt == Rt2 as undefined (Arm ARM: CONSTRAINED UNPREDICTABLE)
      when: k.signed ? (f) => f.Rt !== f.Rt2 : undefined,
      view: (f) => {
        const o = fieldsAsOps(f);
        const off = sext(f.imm7!, 7) << BigInt(scale);
        o.off = off === 0n && (mode === "offset" || mode === "nt") ? undefined : off;
        return o;
      },
      build: (o) => ({ imm7: sfit(o.off, 7, scale, "offset"), Rt2: num(o.Rt2), Rn: num(o.Rn), Rt: num(o.Rt) }),
      gen: pairGen(k, mode === "nt" ? "offset" : mode),
    });
  }
}

// ---- load/store pair of SIMD&FP registers (Arm ARM C4.1.88 "Load/store register pair", V = 1:
// opc 00 S, 01 D, 10 Q). The registers move as 8-byte halves of state.v; no FP arithmetic is modelled.
const FP_PAIRS = [{ r: "S", opc: 0, size: 4 }, { r: "D", opc: 1, size: 8 }, { r: "Q", opc: 2, size: 16 }] as const;
for (const k of FP_PAIRS) {
  const scale = Math.log2(k.size);
  const modes: [PairMode, string, string][] = [["offset", "010", "[<Xn|sp>{, #<off:d>}]"], ["pre", "011", "[<Xn|sp>, #<off:d>]!"], ["post", "001", "[<Xn|sp>], #<off:d>"], ["nt", "000", "[<Xn|sp>{, #<off:d>}]"]];
  for (const load of [false, true]) {
    for (const [mode, bitsMode, addr] of modes) {
      const mn = (load ? "ldp" : "stp").replace("p", mode === "nt" ? "np" : "p");
      decls.push({
        name: `${mn.toUpperCase()}_${k.r.toLowerCase()}_${mode}`, pattern: `${bits(k.opc, 2)} 101 1 ${bitsMode} ${load ? 1 : 0} imm7:7 Rt2:5 Rn:5 Rt:5`,
        syntax: `${mn} <${k.r}t>, <${k.r}t2>, ${addr}`,
        view: (f) => {
          const o = fieldsAsOps(f);
          const off = sext(f.imm7!, 7) << BigInt(scale);
          o.off = off === 0n && (mode === "offset" || mode === "nt") ? undefined : off;
          return o;
        },
        build: (o) => ({ imm7: sfit(o.off, 7, scale, "offset"), Rt2: num(o.Rt2), Rn: num(o.Rn), Rt: num(o.Rt) }),
        exec: (env, f) => fpPair(env, f, k.size, load, mode),
      });
    }
  }
}

/** LDP/STP/LDNP/STNP of two SIMD&FP registers of `size` bytes: all accesses first, then the register writes. */
function fpPair(env: A64Env, f: A64Fields, size: 4 | 8 | 16, load: boolean, mode: PairMode): void {
  env.checkFpAccess?.();
  if (f.Rn === 31) env.checkSpAlignment?.();
  const base = rSP(env, f.Rn!, 1);
  const wb = (base + (sext(f.imm7!, 7) << BigInt(Math.log2(size)))) & maskOf(64);
  const addr = mode === "post" ? base : wb;
  const v = env.state.v;
  const half = size === 16 ? 8 : size;
  const acc = (rt: number): A64MemAccess => ({ size: half as 4 | 8, write: !load, rt, signed: false, sf: true, acqrel: false, syndromeValid: false, mustAlign: false });
  // Each register as its 8-byte halves (or one 4-byte S): element addresses addr, addr + size.
  const parts: [number, bigint, number][] = [];
  for (const [i, rt] of [[0, f.Rt!], [1, f.Rt2!]] as const) {
    const a = addr + BigInt(i * size);
    parts.push([2 * rt, a, rt]);
    if (size === 16) parts.push([2 * rt + 1, a + 8n, rt]);
  }
  if (load) {
    const vals = parts.map(([, a, rt]) => env.load(a & maskOf(64), acc(rt)));
    // Writing S or D zeroes the rest of the 128-bit register (Arm ARM V[] setter).
    if (size !== 16) for (const rt of [f.Rt!, f.Rt2!]) v[2 * rt + 1] = 0n;
    parts.forEach(([slot], i) => { v[slot] = vals[i]!; });
  } else {
    for (const [slot, a, rt] of parts) env.store(a & maskOf(64), size === 4 ? v[slot]! & 0xffffffffn : v[slot]!, acc(rt));
  }
  if (mode === "pre" || mode === "post") wSP(env, f.Rn!, wb, 1);
}

// ---- load-acquire / store-release / exclusives (Arm ARM C4.1.88 "Load/store exclusive")
const SUFFIX = ["b", "h", "", ""];
for (let size = 0; size < 4; size++) {
  const x = size === 3;
  const k = (load: boolean): Kind => ({ mn: "", unscaled: "", size, opc: 0, load, signed: false, x });
  const sz = bits(size, 2);
  const R = x ? "<Xt>" : "<Wt>";
  const sfx = SUFFIX[size]!;
  decls.push(
    {
      name: `LDAR${sfx.toUpperCase()}_${size}`, pattern: `${sz} 001000 1 1 0 11111 1 11111 Rn:5 Rt:5`, syntax: `ldar${sfx} ${R}, [<Xn|sp>{, #0}]`,
      gen: (f, g) => {
        if (f.Rn === 31) g.checkSp();
        single(g, k(true), f.Rt!, g.reg(f.Rn!, 1, true), true, true);
      },
    },
    {
      name: `STLR${sfx.toUpperCase()}_${size}`, pattern: `${sz} 001000 1 0 0 ooooo 1 ooooo Rn:5 Rt:5`, syntax: `stlr${sfx} ${R}, [<Xn|sp>{, #0}]`,
      gen: (f, g) => {
        if (f.Rn === 31) g.checkSp();
        single(g, k(false), f.Rt!, g.reg(f.Rn!, 1, true), true, true);
      },
    },
  );
  for (const o0 of [0, 1]) {
    const a = o0 ? "a" : "";
    const l = o0 ? "l" : "";
    decls.push(
      {
        name: `LD${a.toUpperCase()}XR${sfx.toUpperCase()}_${size}`, pattern: `${sz} 001000 0 1 0 ooooo ${o0} ooooo Rn:5 Rt:5`, syntax: `ld${a}xr${sfx} ${R}, [<Xn|sp>{, #0}]`,
        exec: (env, f) => {
          if (f.Rn === 31) env.checkSpAlignment?.();
          const addr = rSP(env, f.Rn!, 1);
          const bytes = (1 << size) as 1 | 2 | 4 | 8;
          const v = env.load(addr, { size: bytes, write: false, rt: f.Rt!, signed: false, sf: x, acqrel: o0 === 1, syndromeValid: false, mustAlign: true });
          setExclusive(env.state, addr, bytes);
          wX(env, f.Rt!, v, x);
        },
      },
      {
        name: `ST${l.toUpperCase()}XR${sfx.toUpperCase()}_${size}`, pattern: `${sz} 001000 0 0 0 Rs:5 ${o0} ooooo Rn:5 Rt:5`, syntax: `st${l}xr${sfx} <Ws>, ${R}, [<Xn|sp>{, #0}]`,
        exec: (env, f) => {
          if (f.Rn === 31) env.checkSpAlignment?.();
          const addr = rSP(env, f.Rn!, 1);
          const bytes = (1 << size) as 1 | 2 | 4 | 8;
          const a: A64MemAccess = { size: bytes, write: true, rt: f.Rt!, signed: false, sf: x, acqrel: o0 === 1, syndromeValid: false, mustAlign: true };
          // AArch64.ExclusiveMonitorsPass checks alignment before the monitor: an unaligned STXR faults even when it would fail.
          env.checkAlignment?.(addr, a);
          let status = 1n;
          if (checkExclusive(env.state, addr, bytes)) {
            env.store(addr, rX(env, f.Rt!, x) & maskOf(bytes * 8), a);
            status = 0n;
          }
          wX(env, f.Rs!, status, 0);
        },
      },
    );
  }
}

export const loadsAndStores = decls;
