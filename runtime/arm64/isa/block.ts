// The block compiler: the templates of a run of instructions (gen.ts) concatenated into one
// JavaScript function (`new Function`), ending at the first branch, bridged instruction, page
// end or length cap. A block whose final direct branch jumps back to its own start becomes a JS
// loop that runs until the branch falls through or the instruction budget is spent. The
// interpreter is the same thing with one instruction per block.
//
// Contract of a compiled block fn(R, S, E, M, budget) → instructions retired:
//  - it runs only when its length fits the budget; a loop block stops before exceeding it;
//  - on return R[PC] holds the next instruction's address;
//  - when an instruction faults (throws), every earlier instruction has completed, that one has
//    changed nothing, R[PC] holds its address and S.partial the number retired before it.

import { REG, join64, type A64State } from "../state.js";
import type { A64Env, A64MemAccess } from "../env.js";
import type { A64Fields, A64Spec } from "./types.js";
import { BlockRegs, Gen, INT64, konst64, type EmittedInsn } from "./gen.js";

/** The memory the templates access: 32-bit halves in, the low half out (the high half of an 8-byte load in R[REG.T]). */
export interface MemPort {
  ld(lo: number, hi: number, a: A64MemAccess): number;
  st(lo: number, hi: number, vlo: number, vhi: number, a: A64MemAccess): void;
}

export type BlockFn = (R: Int32Array, S: A64State, E: A64Env, M: MemPort, budget: number) => number;

export interface BlockInsn {
  spec: A64Spec;
  fields: A64Fields;
  pc: bigint;
}

/** True when the instruction must be the last of its block (it branches, or runs through the bridge). */
export function endsBlock(spec: A64Spec): boolean {
  return !spec.emit || spec.branches === true;
}

const HELPERS = { ...INT64, out: new Int32Array(2) };

function emitInsn(insn: BlockInsn, index: number, consts: unknown[], regs: BlockRegs): EmittedInsn {
  const g = new Gen(insn.pc, index, consts, `v${index}_`, regs);
  if (insn.spec.emit) insn.spec.emit(insn.fields, g);
  else g.bridge(insn.spec.run, insn.fields);
  return g.done();
}

const pcSet = (slot: number, v: { lo: string; hi: string }) => `R[${slot}] = ${v.lo}; R[${slot + 1}] = ${v.hi};`;

/**
 * JavaScript source of a block (exported for tests and for looking at compiled code). With
 * `allowLoop`, a block whose last instruction branches directly back to its first is a loop.
 */
export function blockSource(insns: readonly BlockInsn[], allowLoop: boolean, consts: unknown[]): string {
  const len = insns.length;
  const parts: string[] = [];
  const start = konst64(insns[0]!.pc);
  let loop = false;
  const regs = new BlockRegs();
  const SYNC = BlockRegs.SYNC;
  insns.forEach((insn, i) => {
    const e = emitInsn(insn, i, consts, regs);
    if (i < len - 1) {
      if (e.branch || e.indirect) throw new Error(`block: ${insn.spec.name} must end its block`);
      parts.push(`{\n${e.code}\n}`);
      return;
    }
    const next = konst64(insn.pc + 4n);
    let tail: string;
    if (e.branch) {
      const { cond, target } = e.branch;
      loop = allowLoop && target.lo === start.lo && target.hi === start.hi;
      // A loop that yields (a spin-wait) also ends when the yield asked for attention (E.onYield: another vCPU's turn).
      const more = insns.some((x) => x.spec.name === "YIELD") ? `n + ${len} <= budget && E.attention === 0` : `n + ${len} <= budget`;
      if (loop) tail = `if (${cond}) { n += ${len}; if (${more}) continue; ${pcSet(REG.PC, start)} ${SYNC} return n; }\n${pcSet(REG.PC, next)} ${SYNC} return n + ${len};`;
      else if (cond === "true") tail = `${pcSet(REG.PC, target)} ${SYNC} return n + ${len};`;
      else tail = `if (${cond}) { ${pcSet(REG.PC, target)} } else { ${pcSet(REG.PC, next)} }\n${SYNC} return n + ${len};`;
    } else if (e.indirect) tail = `R[${REG.PC}] = R[${REG.NPC}]; R[${REG.PC + 1}] = R[${REG.NPC + 1}]; ${e.bridged ? "" : SYNC} return n + ${len};`;
    else tail = `${pcSet(REG.PC, next)} ${SYNC} return n + ${len};`;
    parts.push(`{\n${e.code}\n${tail}\n}`);
  });
  const body = parts.join("\n").split(SYNC).join(regs.sync());
  return `let n = 0, ci = 0;\n${regs.prologue()}\ntry {\n${loop ? `for (;;) {\n${body}\n}` : body}\n} catch (e) { S.partial = n + ci; throw e; }`;
}

type BlockFactory = (K: unknown[], H: typeof HELPERS) => BlockFn;

/** The factory of a function `name(R, S, E, M, budget)` whose body is `body` (K: constants, H: helpers, O: H.out). */
function factory(name: string, body: string): BlockFactory {
  return new Function("K", "H", `"use strict"; const O = H.out; return function ${name}(R, S, E, M, budget) {\n${body}\n};`) as BlockFactory;
}
/**
 * Factories by source text: the same code at the same address (every machine that boots the same
 * guest, the tests, the notebooks) is parsed and compiled by V8 once. The constants are passed
 * per block, so blocks of different machines share code but no state. Bounded: cleared when full.
 */
const factories = new Map<string, BlockFactory>();
const FACTORIES_MAX = 8192;

/** Compile a block (see blockSource). */
export function compileBlock(insns: readonly BlockInsn[], allowLoop: boolean): BlockFn {
  const consts: unknown[] = [];
  const src = blockSource(insns, allowLoop, consts);
  let make = factories.get(src);
  if (make === undefined) {
    if (factories.size >= FACTORIES_MAX) factories.clear();
    make = factory("block", src);
    factories.set(src, make);
  }
  return make(consts, HELPERS);
}

/** A MemPort over any A64Env's BigInt load/store (tests, KVM's instruction emulation). */
export class EnvPort implements MemPort {
  constructor(private readonly env: A64Env) {}
  ld(lo: number, hi: number, a: A64MemAccess): number {
    const v = this.env.load(join64(lo, hi), a);
    this.env.state.r[REG.T] = Number(v >> 32n) | 0;
    return Number(v & 0xffff_ffffn) | 0;
  }
  st(lo: number, hi: number, vlo: number, vhi: number, a: A64MemAccess): void {
    this.env.store(join64(lo, hi), BigInt.asUintN(a.size * 8, join64(vlo, vhi)), a);
  }
}

/**
 * Run one instruction's template against any A64Env, with the A64Env contract of the BigInt
 * semantics: the caller has set state.pc and state.nextPc (= pc + 4); a branch assigns nextPc.
 */
export function runTemplate(env: A64Env, spec: A64Spec, fields: A64Fields): void {
  const s = env.state;
  const insn: BlockInsn = { spec, fields, pc: s.pc };
  const consts: unknown[] = [];
  const regs = new BlockRegs();
  const e = emitInsn(insn, 0, consts, regs);
  let tail = "";
  if (e.branch) tail = `if (${e.branch.cond}) { ${pcSet(REG.NPC, e.branch.target)} }`;
  if (!e.bridged) tail += regs.sync();
  const code = e.code.split(BlockRegs.SYNC).join(regs.sync());
  const fn = factory("one", `let n = 0, ci = 0;\n${regs.prologue()}\n${code}\n${tail}`)(consts, HELPERS);
  fn(s.r, s, env, (env as { port?: MemPort }).port ?? new EnvPort(env), 1);
}
