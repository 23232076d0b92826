// Random A64 programs for the differential tests (interpreter vs compiled, exitlab vs QEMU).
//
// A program is: an initial value for every general register (x0..x30 but x28) and NZCV, the
// initial bytes of a 256-byte data buffer, and a body of GNU-syntax instructions. The body
// never reads or writes sp, and keeps x28 (the buffer base, buffer + 128) intact and never uses it
// as data, so exitlab (buffer in guest RAM) and QEMU (buffer in the ELF's .data) compute the same
// values. x27 is the address scratch register: it gets base + offset, the access with writeback
// moves it, and `sub x27, x27, x28` turns it back into a plain (base-relative) number at once.
// x26 is the loop counter: no instruction writes it except the loops themselves.
// Every access stays inside the buffer, labels are local to the program (prefix), branches go
// forward except the counted loops, whose bodies are straight-line.

import { Rng, hex } from "./prng.js";

export const A64_BUF_SIZE = 256;
/** The base register points here into the buffer, so negative offsets are in range too. */
export const A64_BUF_BIAS = 128;
export const A64_BASE_REG = 28;
export const A64_LOOP_REG = 26;
export const A64_ADDR_REG = 27;

export interface A64Program {
  seed: number;
  /** x0..x30 initial values (index 28 unused: the base register). */
  init: bigint[];
  /** NZCV in bits 3:0. */
  nzcv: number;
  buf: Uint8Array;
  /** Instructions and labels (labels end in ':'), labels already prefixed. */
  body: string[];
}

const CONDS = ["eq", "ne", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le"] as const;
/** Registers the body may write. Not x26 (loop counter), x28 (base); x27 only through this list. */
const DEST = [...Array.from({ length: 26 }, (_, i) => i), 27, 29, 30];
/** Registers the body may read as data (x26 is readable; never x28 or sp). */
const SRC = [...Array.from({ length: 28 }, (_, i) => i), 29, 30];

/** A valid logical (bitmask) immediate of `width` bits: a rotated run of ones, replicated. */
export function bitmaskImm(rng: Rng, width: 32 | 64): bigint {
  const sizes = width === 64 ? [2, 4, 8, 16, 32, 64] : [2, 4, 8, 16, 32];
  const esize = rng.pick(sizes);
  const ones = rng.int(1, esize - 1);
  const rot = rng.int(0, esize - 1);
  const emask = (1n << BigInt(esize)) - 1n;
  let elem = (1n << BigInt(ones)) - 1n;
  elem = ((elem >> BigInt(rot)) | (elem << BigInt(esize - rot))) & emask;
  let v = 0n;
  for (let i = 0; i < width; i += esize) v |= elem << BigInt(i);
  return v;
}

export interface A64GenOptions {
  length: number;
  /** Prefix of the program's labels (unique per program in a batch ELF). */
  labelPrefix?: string;
}

export function generateA64(seed: number, opts: A64GenOptions): A64Program {
  const rng = new Rng(seed);
  const init = Array.from({ length: 31 }, (_, i) => (i === A64_BASE_REG ? 0n : rng.u64()));
  const nzcv = rng.int(0, 15);
  const buf = rng.bytes(A64_BUF_SIZE);
  const body: string[] = [];
  const prefix = opts.labelPrefix ?? "";
  let labelCount = 0;
  const newLabel = () => `${prefix}L${labelCount++}`;
  /** Forward labels waiting for their place: placed after `left` more instructions. */
  const pending: { label: string; left: number }[] = [];

  const R = (n: number, x: boolean) => (n === 31 ? (x ? "xzr" : "wzr") : `${x ? "x" : "w"}${n}`);
  const d = () => rng.pick(DEST);
  const s = () => (rng.chance(0.05) ? 31 : rng.pick(SRC)); // 31 = zr where the encoding allows it
  const sNoZr = () => rng.pick(SRC);
  const shiftAmt = (x: boolean) => rng.chance(0.3) ? 0 : rng.int(0, x ? 63 : 31);

  function dataOp(inLoop: boolean): string[] {
    const x = rng.chance(0.5);
    const W = x ? 64 : 32;
    const rd = () => R(d(), x);
    const rn = () => R(s(), x);
    const rnSp = () => R(sNoZr(), x); // operand positions where 31 would be sp
    const k = rng.int(0, 27);
    switch (k) {
      case 0: { // add/sub (immediate)
        const mn = rng.pick(["add", "adds", "sub", "subs"]);
        return [`${mn} ${rd()}, ${rnSp()}, #${rng.int(0, 4095)}${rng.chance(0.3) ? ", lsl #12" : ""}`];
      }
      case 1: { // add/sub (shifted register)
        const mn = rng.pick(["add", "adds", "sub", "subs"]);
        return [`${mn} ${rd()}, ${rn()}, ${rn()}, ${rng.pick(["lsl", "lsr", "asr"])} #${shiftAmt(x)}`];
      }
      case 2: { // add/sub (extended register)
        const mn = rng.pick(["add", "adds", "sub", "subs"]);
        const ext = rng.pick(x ? ["uxtb", "uxth", "uxtw", "uxtx", "sxtb", "sxth", "sxtw", "sxtx"] : ["uxtb", "uxth", "uxtw", "sxtb", "sxth", "sxtw"]);
        const mx = ext === "uxtx" || ext === "sxtx";
        // S forms: Rd 31 is zr; non-S: Rd 31 is sp — DEST never holds 31 anyway.
        return [`${mn} ${rd()}, ${rnSp()}, ${R(s(), mx)}, ${ext} #${rng.int(0, 4)}`];
      }
      case 3: { // compares
        const f = rng.int(0, 3);
        if (f === 0) return [`${rng.pick(["cmp", "cmn"])} ${rnSp()}, #${rng.int(0, 4095)}`];
        if (f === 1) return [`${rng.pick(["cmp", "cmn"])} ${rn()}, ${rn()}, ${rng.pick(["lsl", "lsr", "asr"])} #${shiftAmt(x)}`];
        if (f === 2) return [`tst ${rn()}, ${rn()}, ${rng.pick(["lsl", "lsr", "asr", "ror"])} #${shiftAmt(x)}`];
        return [`tst ${rn()}, #${hex(bitmaskImm(rng, W))}`];
      }
      case 4: { // logical (immediate)
        const mn = rng.pick(["and", "orr", "eor", "ands"]);
        return [`${mn} ${rd()}, ${rn()}, #${hex(bitmaskImm(rng, W))}`];
      }
      case 5: case 6: { // logical (shifted register)
        const mn = rng.pick(["and", "bic", "orr", "orn", "eor", "eon", "ands", "bics"]);
        return [`${mn} ${rd()}, ${rn()}, ${rn()}, ${rng.pick(["lsl", "lsr", "asr", "ror"])} #${shiftAmt(x)}`];
      }
      case 7: { // move wide
        const mn = rng.pick(["movz", "movk", "movn"]);
        return [`${mn} ${rd()}, #${hex(rng.int(0, 0xffff))}, lsl #${16 * rng.int(0, x ? 3 : 1)}`];
      }
      case 8: { // multiply
        const f = rng.int(0, 4);
        if (f === 0) return [`${rng.pick(["madd", "msub"])} ${rd()}, ${rn()}, ${rn()}, ${rn()}`];
        if (f === 1) return [`${rng.pick(["mul", "mneg"])} ${rd()}, ${rn()}, ${rn()}`];
        if (f === 2) return [`${rng.pick(["umulh", "smulh"])} ${R(d(), true)}, ${R(s(), true)}, ${R(s(), true)}`];
        if (f === 3) return [`${rng.pick(["smaddl", "umaddl", "smsubl", "umsubl"])} ${R(d(), true)}, ${R(s(), false)}, ${R(s(), false)}, ${R(s(), true)}`];
        return [`${rng.pick(["smull", "umull"])} ${R(d(), true)}, ${R(s(), false)}, ${R(s(), false)}`];
      }
      case 9: // divide (by zero gives zero, INT_MIN / -1 gives INT_MIN: both defined)
        return [`${rng.pick(["udiv", "sdiv"])} ${rd()}, ${rn()}, ${rn()}`];
      case 10: { // shifts, immediate and register
        const mn = rng.pick(["lsl", "lsr", "asr", "ror"]);
        return rng.chance(0.5) ? [`${mn} ${rd()}, ${rn()}, #${rng.int(0, W - 1)}`] : [`${mn} ${rd()}, ${rn()}, ${rn()}`];
      }
      case 11: { // bitfield aliases
        const lsb = rng.int(0, W - 1);
        const width = rng.int(1, W - lsb);
        const mn = rng.pick(["ubfx", "sbfx", "bfi", "bfxil", "ubfiz", "sbfiz", "bfc"]);
        if (mn === "bfc") return [`bfc ${rd()}, #${lsb}, #${width}`];
        return [`${mn} ${rd()}, ${rn()}, #${lsb}, #${width}`];
      }
      case 12: { // extends and raw bitfield moves
        const f = rng.int(0, 2);
        if (f === 0) return [`${rng.pick(["uxtb", "uxth"])} ${R(d(), false)}, ${R(s(), false)}`];
        if (f === 1) return [`${rng.pick(["sxtb", "sxth", "sxtw"])} ${R(d(), true)}, ${R(s(), false)}`];
        return [`${rng.pick(["ubfm", "sbfm", "bfm"])} ${rd()}, ${rn()}, #${rng.int(0, W - 1)}, #${rng.int(0, W - 1)}`];
      }
      case 13: { // conditional select
        const mn = rng.pick(["csel", "csinc", "csinv", "csneg"]);
        return [`${mn} ${rd()}, ${rn()}, ${rn()}, ${rng.pick(CONDS)}`];
      }
      case 14: { // conditional select aliases
        const mn = rng.pick(["cset", "csetm", "cinc", "cinv", "cneg"]);
        if (mn === "cset" || mn === "csetm") return [`${mn} ${rd()}, ${rng.pick(CONDS)}`];
        return [`${mn} ${rd()}, ${rn()}, ${rng.pick(CONDS)}`];
      }
      case 15: { // conditional compare
        const mn = rng.pick(["ccmp", "ccmn"]);
        const b = rng.chance(0.5) ? `#${rng.int(0, 31)}` : rn();
        return [`${mn} ${rn()}, ${b}, #${rng.int(0, 15)}, ${rng.pick(CONDS)}`];
      }
      case 16: { // add/sub with carry
        const mn = rng.pick(["adc", "adcs", "sbc", "sbcs", "ngc", "ngcs"]);
        return mn.startsWith("ngc") ? [`${mn} ${rd()}, ${rn()}`] : [`${mn} ${rd()}, ${rn()}, ${rn()}`];
      }
      case 17: { // one-source
        const mn = rng.pick(x ? ["clz", "cls", "rbit", "rev", "rev16", "rev32"] : ["clz", "cls", "rbit", "rev", "rev16"]);
        return [`${mn} ${rd()}, ${rn()}`];
      }
      case 18: return [`extr ${rd()}, ${rn()}, ${rn()}, #${rng.int(0, W - 1)}`];
      case 19: { // neg, mvn, mov
        const f = rng.int(0, 2);
        if (f === 0) return [`${rng.pick(["neg", "negs"])} ${rd()}, ${rn()}, ${rng.pick(["lsl", "lsr", "asr"])} #${shiftAmt(x)}`];
        if (f === 1) return [`mvn ${rd()}, ${rn()}, ${rng.pick(["lsl", "lsr", "asr", "ror"])} #${shiftAmt(x)}`];
        return [`mov ${rd()}, ${rn()}`];
      }
      default:
        return memOp(inLoop);
    }
  }

  /** A load or store inside the buffer. */
  function memOp(_inLoop: boolean): string[] {
    const base = R(A64_BASE_REG, true);
    const a = R(A64_ADDR_REG, true);
    const a32 = R(A64_ADDR_REG, false);
    // Load/store kinds: [mnemonic, bytes, Rt is X]
    const kinds: [string, number, boolean][] = [
      ["strb", 1, false], ["ldrb", 1, false], ["ldrsb", 1, true], ["ldrsb", 1, false],
      ["strh", 2, false], ["ldrh", 2, false], ["ldrsh", 2, true], ["ldrsh", 2, false],
      ["str", 4, false], ["ldr", 4, false], ["ldrsw", 4, true], ["str", 8, true], ["ldr", 8, true],
    ];
    const [mn, size, x] = rng.pick(kinds);
    const load = mn.startsWith("ld");
    // Rt: a load writes it (never x27/x26/x28), a store reads it (any data register)
    const rtNum = load ? rng.pick(DEST.filter((r) => r !== A64_ADDR_REG)) : rng.pick(SRC.filter((r) => r !== A64_ADDR_REG));
    const rt = R(rtNum, x);
    const lo = -A64_BUF_BIAS, hi = A64_BUF_SIZE - A64_BUF_BIAS - size; // offsets from the base that fit
    const mode = rng.int(0, 5);
    switch (mode) {
      case 0: { // unsigned scaled offset
        const off = size * rng.int(0, Math.floor(hi / size));
        return [`${mn} ${rt}, [${base}, #${off}]`];
      }
      case 1: { // unscaled (ldur/stur), any alignment, negative too
        const un = mn.replace(/^ldr/, "ldur").replace(/^str/, "stur");
        return [`${un} ${rt}, [${base}, #${rng.int(lo, hi)}]`];
      }
      case 2: case 3: { // pre/post-index through x27
        const start = rng.int(lo, hi);
        const pre = mode === 2;
        // pre: address start + imm; post: address start, then + imm. Both stay in the buffer.
        const imm = pre ? rng.int(Math.max(-256, lo - start), Math.min(255, hi - start)) : rng.int(-64, 64);
        const setup = start >= 0 ? `add ${a}, ${base}, #${start}` : `sub ${a}, ${base}, #${-start}`;
        const access = pre ? `${mn} ${rt}, [${a}, #${imm}]!` : `${mn} ${rt}, [${a}], #${imm}`;
        return [setup, access, `sub ${a}, ${a}, ${base}`];
      }
      case 4: { // register offset, x index, optionally scaled
        const scaled = rng.chance(0.5);
        const n = Math.floor((hi + 1) / (scaled ? size : 1)) - 1; // index 0..n stays in range
        const mask = (1 << Math.floor(Math.log2(Math.max(1, n + 1)))) - 1;
        const src = R(sNoZr(), true);
        const idx = mask > 0 ? `and ${a}, ${src}, #${mask}` : `mov ${a}, #0`;
        return [idx, `${mn} ${rt}, [${base}, ${a}${scaled ? `, lsl #${Math.log2(size)}` : ""}]`];
      }
      default: { // register offset, w index, uxtw (forward) or sxtw (backward)
        const sx = rng.chance(0.5);
        const scaled = size > 1 && rng.chance(0.5);
        const span = sx ? A64_BUF_BIAS : hi + 1;
        const n = Math.floor(span / (scaled ? size : 1)) - 1;
        const mask = (1 << Math.floor(Math.log2(Math.max(1, n + 1)))) - 1;
        const lines = [mask > 0 ? `and ${a32}, ${R(sNoZr(), false)}, #${mask}` : `mov ${a32}, #0`];
        if (sx) lines.push(`neg ${a32}, ${a32}`);
        lines.push(`${mn} ${rt}, [${base}, ${a32}, ${sx ? "sxtw" : "uxtw"}${scaled ? ` #${Math.log2(size)}` : ""}]`);
        return lines;
      }
    }
  }

  function pairOp(): string[] {
    const base = R(A64_BASE_REG, true);
    const a = R(A64_ADDR_REG, true);
    const f = rng.int(0, 2);
    const mn = rng.pick(["ldp", "stp", "ldpsw"]);
    const x = mn === "ldpsw" ? true : rng.chance(0.5);
    const size = mn === "ldpsw" || !x ? 4 : 8;
    const load = mn !== "stp";
    const pool = load ? DEST.filter((r) => r !== A64_ADDR_REG) : SRC.filter((r) => r !== A64_ADDR_REG);
    const t1 = rng.pick(pool);
    let t2 = rng.pick(pool);
    while (load && t2 === t1) t2 = rng.pick(pool); // ldp with Rt == Rt2 is CONSTRAINED UNPREDICTABLE
    const regs = `${R(t1, x)}, ${R(t2, x)}`;
    const lo = Math.ceil(-A64_BUF_BIAS / size), hi = Math.floor((A64_BUF_SIZE - A64_BUF_BIAS - 2 * size) / size);
    if (f === 0) return [`${mn} ${regs}, [${base}, #${size * rng.int(lo, hi)}]`];
    const start = size * rng.int(lo, hi);
    const setup = start >= 0 ? `add ${a}, ${base}, #${start}` : `sub ${a}, ${base}, #${-start}`;
    if (f === 1) { // pre-index: start + imm in range
      const imm = size * rng.int(lo - start / size, hi - start / size);
      return [setup, `${mn} ${regs}, [${a}, #${imm}]!`, `sub ${a}, ${a}, ${base}`];
    }
    const imm = size * rng.int(-8, 8);
    return [setup, `${mn} ${regs}, [${a}], #${imm}`, `sub ${a}, ${a}, ${base}`];
  }

  function forwardBranch(): string[] {
    const label = newLabel();
    pending.push({ label, left: rng.int(2, 7) }); // counted down by emit() from this instruction on
    const f = rng.int(0, 4);
    const x = rng.chance(0.5);
    if (f === 0) return [`b.${rng.pick([...CONDS, "al"])} ${label}`];
    if (f === 1) return [`${rng.pick(["cbz", "cbnz"])} ${R(sNoZr(), x)}, ${label}`];
    if (f === 2) return [`${rng.pick(["tbz", "tbnz"])} ${R(sNoZr(), x)}, #${rng.int(0, x ? 63 : 31)}, ${label}`];
    if (f === 3) return [`b ${label}`];
    return [`b.${rng.pick(CONDS)} ${label}`];
  }

  function placeLabels(all: boolean): void {
    for (let i = 0; i < pending.length; i++) {
      const p = pending[i]!;
      if (all || p.left <= 0) {
        body.push(`${p.label}:`);
        pending.splice(i--, 1);
      }
    }
  }

  function emit(lines: string[]): void {
    for (const l of lines) body.push(l);
    for (const p of pending) p.left--;
    placeLabels(false);
  }

  let count = 0;
  while (count < opts.length) {
    const k = rng.int(0, 99);
    if (k < 8) {
      emit(forwardBranch());
      count++;
    } else if (k < 12 && pending.length === 0) {
      // a small counted loop with a straight-line body (no branch crosses it)
      placeLabels(true);
      const head = newLabel();
      const n = rng.int(1, 4);
      body.push(`mov ${R(A64_LOOP_REG, rng.chance(0.5))}, #${n}`, `${head}:`);
      const len = rng.int(1, 6);
      for (let i = 0; i < len; i++) body.push(...(rng.chance(0.2) ? pairOp() : dataOp(true)));
      if (rng.chance(0.5)) body.push(`sub x${A64_LOOP_REG}, x${A64_LOOP_REG}, #1`, `cbnz x${A64_LOOP_REG}, ${head}`);
      else body.push(`subs w${A64_LOOP_REG}, w${A64_LOOP_REG}, #1`, `b.ne ${head}`);
      count += len + 2;
    } else if (k < 20) {
      emit(pairOp());
      count++;
    } else {
      emit(dataOp(false));
      count++;
    }
  }
  placeLabels(true);
  body.push(`${prefix}end:`); // a branch target can be the very end: keep a label there
  return { seed, init, nzcv, buf, body };
}

/** The whole program as text (for failure messages). */
export function a64ProgramText(p: A64Program): string {
  const init = p.init.map((v, i) => (i === A64_BASE_REG ? null : `x${i}=${hex(v)}`)).filter(Boolean).join(" ");
  return `seed ${p.seed}\ninit: ${init} nzcv=${p.nzcv.toString(2).padStart(4, "0")}\n` + p.body.map((l) => (l.endsWith(":") ? l : `  ${l}`)).join("\n");
}

/** Instructions that load `value` into x`reg` (movz + movk). */
export function a64LoadImm(reg: number, value: bigint): string[] {
  const out = [`movz x${reg}, #${hex(value & 0xffffn)}`];
  for (let i = 1; i < 4; i++) {
    const h = (value >> BigInt(16 * i)) & 0xffffn;
    if (h !== 0n) out.push(`movk x${reg}, #${hex(h)}, lsl #${16 * i}`);
  }
  return out;
}
