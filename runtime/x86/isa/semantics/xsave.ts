// FXSAVE/FXRSTOR and the standard form of XSAVE/XRSTOR (Intel SDM Vol. 2A FXSAVE, FXRSTOR; Vol. 2C
// XSAVE, XRSTOR; Vol. 1 13.7 and 13.8) on the vCPU's X86FpuState, with the image layout of
// fpu-state.ts. Memory is read and written 8 bytes at a time; a save that faults part-way has
// written what came before the fault. Every component is treated as in use (XINUSE = XCR0), which
// the SDM allows (13.6: a processor may set XINUSE[i] although component i is in its initial
// configuration), so XSAVE sets XSTATE_BV[i] for every requested component.

import type { X86Env } from "../../env.js";
import { FXSAVE_SIZE, imageMxcsr, loadLegacy, MXCSR_MASK, storeLegacy, XFEATURE, XSAVE_COMPONENTS, type X86FpuState } from "../../fpu-state.js";
import type { X86Insn } from "../types.js";
import { VECTOR } from "../../vectors.js";
import { CR0, CR4 } from "../../state.js";
import { effectiveAddress, readMem, writeMem, type MemOperand, type Sem } from "./core.js";
import { checkAligned } from "./sse.js";

/** Byte ranges [start, end) of the legacy region each part occupies (fpu-state.ts FXSAVE_LAYOUT). */
const X87_RANGES: readonly [number, number][] = [[0, 24], [32, 160]];
/** Offset of the XSAVE header: XSTATE_BV at +0, XCOMP_BV at +8, reserved to +63 (SDM Vol. 1 13.4.2). */
const HEADER = FXSAVE_SIZE;

const xmmCount = (insn: X86Insn): number => (insn.mode === "long64" ? 16 : 8);
/** FXSAVE64/XSAVE64...: REX.W, the 64-bit FIP/FDP layout. */
const wide = (insn: X86Insn): boolean => insn.spec.osize === 64;

function ranges(parts: { x87: boolean; mxcsr: boolean; xmm: boolean }, xmm: number): [number, number][] {
  const r: [number, number][] = [];
  if (parts.x87) r.push(...X87_RANGES);
  if (parts.mxcsr) r.push([24, 32]);
  if (parts.xmm) r.push([160, 160 + 16 * xmm]);
  return r;
}

function readRanges(env: X86Env, m: MemOperand, ea: bigint, image: Uint8Array, rs: [number, number][]): void {
  for (const [a, b] of rs) {
    for (let i = a; i < b; i += 8) {
      const q = readMem(env, m.seg, ea + BigInt(i), 8);
      for (let k = 0; k < 8; k++) image[i + k] = Number((q >> BigInt(8 * k)) & 0xffn);
    }
  }
}

function writeRanges(env: X86Env, m: MemOperand, ea: bigint, image: Uint8Array, rs: [number, number][]): void {
  for (const [a, b] of rs) {
    for (let i = a; i < b; i += 8) {
      let q = 0n;
      for (let k = 7; k >= 0; k--) q = (q << 8n) | BigInt(image[i + k]!);
      writeMem(env, m.seg, ea + BigInt(i), 8, q);
    }
  }
}

/** FXSAVE/FXRSTOR's checks (SDM Vol. 2A): #UD without FPU state, #NM if CR0.EM or CR0.TS, #GP(0) unless 16-byte aligned. */
function fxState(env: X86Env, insn: X86Insn): X86FpuState {
  const s = env.state;
  if (!s.fpu) return env.raise(VECTOR.UD);
  if (s.cr0 & (CR0.EM | CR0.TS)) return env.raise(VECTOR.NM);
  checkAligned(env, insn, insn.operands[0] as MemOperand, 16);
  return s.fpu;
}

const ALL = { x87: true, mxcsr: true, xmm: true } as const;

/** FXSAVE m512: x87 state, MXCSR and MXCSR_MASK, XMM0-15 (0-7 outside 64-bit mode); bytes 416-511 are not written. */
const fxsave: Sem = (env, insn) => {
  const f = fxState(env, insn);
  const m = insn.operands[0] as MemOperand;
  const image = new Uint8Array(FXSAVE_SIZE);
  storeLegacy(f, image, ALL, wide(insn), xmmCount(insn));
  writeRanges(env, m, effectiveAddress(env.state, insn, m), image, ranges(ALL, xmmCount(insn)));
};

/** FXRSTOR m512: #GP(0) if the image's MXCSR sets a bit outside MXCSR_MASK, checked before anything is loaded. */
const fxrstor: Sem = (env, insn) => {
  const f = fxState(env, insn);
  const m = insn.operands[0] as MemOperand;
  const image = new Uint8Array(FXSAVE_SIZE);
  readRanges(env, m, effectiveAddress(env.state, insn, m), image, ranges(ALL, xmmCount(insn)));
  if (imageMxcsr(image) & ~MXCSR_MASK) env.raise(VECTOR.GP, 0);
  loadLegacy(f, image, ALL, wide(insn), xmmCount(insn));
};

/**
 * XSAVE/XRSTOR's checks (SDM Vol. 2C XSAVE): #UD without FPU state or with CR4.OSXSAVE = 0, #NM if
 * CR0.TS, #GP(0) unless 64-byte aligned. Returns the state and RFBM = XCR0 AND EDX:EAX.
 */
function xState(env: X86Env, insn: X86Insn): { f: X86FpuState; rfbm: bigint } {
  const s = env.state;
  if (!s.fpu || !env.xgetbv || !(s.cr4 & CR4.OSXSAVE)) return env.raise(VECTOR.UD);
  if (s.cr0 & CR0.TS) return env.raise(VECTOR.NM);
  checkAligned(env, insn, insn.operands[0] as MemOperand, 64);
  const edxEax = ((s.gpr[2]! & 0xffff_ffffn) << 32n) | (s.gpr[0]! & 0xffff_ffffn);
  return { f: s.fpu, rfbm: env.xgetbv(0) & edxEax };
}

/** The legacy-region parts RFBM selects: x87 (bit 0), XMM (bit 1), MXCSR (bit 1 or 2, SDM Vol. 1 13.7). */
function partsOf(rfbm: bigint): { x87: boolean; mxcsr: boolean; xmm: boolean } {
  return { x87: (rfbm & XFEATURE.FP) !== 0n, xmm: (rfbm & XFEATURE.SSE) !== 0n, mxcsr: (rfbm & (XFEATURE.SSE | XFEATURE.YMM)) !== 0n };
}

/** Offset of component 2 (YMM_Hi128) in the standard form (fpu-state.ts XSAVE_COMPONENTS). */
const YMM_OFFSET = XSAVE_COMPONENTS.find((c) => c.bit === 2)!.offset;

/** XSAVE mem (standard form): the RFBM components, then XSTATE_BV = (XSTATE_BV AND NOT RFBM) OR RFBM. */
const xsave: Sem = (env, insn) => {
  const { f, rfbm } = xState(env, insn);
  const m = insn.operands[0] as MemOperand;
  const ea = effectiveAddress(env.state, insn, m);
  const xstateBv = readMem(env, m.seg, ea + BigInt(HEADER), 8);
  const parts = partsOf(rfbm);
  const image = new Uint8Array(FXSAVE_SIZE);
  storeLegacy(f, image, parts, wide(insn), xmmCount(insn));
  writeRanges(env, m, ea, image, ranges(parts, xmmCount(insn)));
  if (rfbm & XFEATURE.YMM) {
    for (let n = 0; n < xmmCount(insn); n++) {
      for (let k = 0; k < 4; k += 2) {
        writeMem(env, m.seg, ea + BigInt(YMM_OFFSET + 16 * n + 4 * k), 8, (BigInt(f.ymmHi[4 * n + k + 1]!) << 32n) | BigInt(f.ymmHi[4 * n + k]!));
      }
    }
  }
  writeMem(env, m.seg, ea + BigInt(HEADER), 8, (xstateBv & ~rfbm) | rfbm);
};

/**
 * XRSTOR mem (standard form, SDM Vol. 1 13.8.1): #GP(0) if XCOMP_BV or header bytes 16-23 are not
 * zero (no compacted form: XSAVEC is not offered), if XSTATE_BV sets a bit XCR0 does not, or if
 * MXCSR would get a reserved bit; then each RFBM component is loaded when its XSTATE_BV bit is set
 * and put in its initial configuration when not; MXCSR is loaded when RFBM[1] or RFBM[2] is set.
 */
const xrstor: Sem = (env, insn) => {
  const { f, rfbm } = xState(env, insn);
  const m = insn.operands[0] as MemOperand;
  const ea = effectiveAddress(env.state, insn, m);
  const xstateBv = readMem(env, m.seg, ea + BigInt(HEADER), 8);
  const xcompBv = readMem(env, m.seg, ea + BigInt(HEADER + 8), 8);
  const reserved = readMem(env, m.seg, ea + BigInt(HEADER + 16), 8);
  if (xcompBv !== 0n || reserved !== 0n || xstateBv & ~env.xgetbv!(0)) env.raise(VECTOR.GP, 0);
  const parts = partsOf(rfbm);
  const image = new Uint8Array(FXSAVE_SIZE);
  readRanges(env, m, ea, image, ranges(parts, xmmCount(insn)));
  if (parts.mxcsr && imageMxcsr(image) & ~MXCSR_MASK) env.raise(VECTOR.GP, 0);
  const load = { x87: parts.x87 && (xstateBv & XFEATURE.FP) !== 0n, xmm: parts.xmm && (xstateBv & XFEATURE.SSE) !== 0n, mxcsr: parts.mxcsr };
  const ymm = new Uint32Array(64);
  const loadYmm = (rfbm & XFEATURE.YMM) !== 0n && (xstateBv & XFEATURE.YMM) !== 0n;
  if (loadYmm) {
    for (let n = 0; n < xmmCount(insn); n++) {
      for (let k = 0; k < 4; k += 2) {
        const q = readMem(env, m.seg, ea + BigInt(YMM_OFFSET + 16 * n + 4 * k), 8);
        ymm[4 * n + k] = Number(q & 0xffff_ffffn);
        ymm[4 * n + k + 1] = Number(q >> 32n);
      }
    }
  }
  if (parts.x87 && !load.x87) f.initFp();
  if (parts.xmm && !load.xmm) f.initSse();
  if (rfbm & XFEATURE.YMM) {
    if (loadYmm) f.ymmHi.set(ymm.subarray(0, 4 * xmmCount(insn)));
    else f.initYmm();
  }
  loadLegacy(f, image, load, wide(insn), xmmCount(insn));
};

export const XSAVE_SEMANTICS: Record<string, Sem> = { fxsave, fxrstor, xsave, xrstor };
