// Data movement, stack and control transfer on the BigInt semantics (SDM Vol. 2: MOV Sreg,
// PUSH/POP Sreg, PUSHF/POPF, far JMP/CALL/RET, IRET, LOOPcc, JrCXZ). MOV, MOVZX/MOVSX, LEA, XCHG,
// PUSH/POP, LEAVE, JMP, Jcc, CALL, RET and NOP are code templates in fast.ts. Branches assign
// state.nextRip; stack memory is accessed before rsp and rip are committed.

import type { X86State } from "../../env.js";
import type { X86Insn, X86Operand } from "../types.js";
import {
  ZF, branchTarget, effectiveAddress, flag, mask, peekPop, push, readGpr, readMem,
  readOperand, writeGpr, type MemOperand, type Sem,
} from "./core.js";
import { VECTOR } from "../../vectors.js";
import { fastIret64, hasFastEvents } from "../../fast-events.js";

/** MOV Sreg, r/m: the machine checks the selector; loading CS this way is #UD. */
const movsreg: Sem = (env, insn) => {
  const dst = insn.operands[0]!, src = insn.operands[1]!;
  if (dst.kind !== "sreg" || dst.seg === "cs") return env.raise(VECTOR.UD);
  const sel = Number(readOperand(env, insn, src) & 0xffffn);
  env.loadSegment(dst.seg, sel);
};

const pushseg: Sem = (env, insn) => {
  const op = insn.operands[0] as Extract<X86Operand, { kind: "sreg" }>;
  push(env, insn.operandSize, BigInt(env.state.seg[op.seg].selector));
};

const popseg: Sem = (env, insn) => {
  const op = insn.operands[0] as Extract<X86Operand, { kind: "sreg" }>;
  const { values, commit } = peekPop(env, insn.operandSize, 1);
  env.loadSegment(op.seg, Number(values[0]! & 0xffffn));
  commit();
};

const RFLAGS_RF = 1n << 16n;

/**
 * Flags POPF may change at CPL 0 (SDM Vol. 2B POPF: VM, VIF, VIP, RF stay): CF..OF with IF and IOPL
 * (0x7fd5 also has NT), AC (bit 18, SMAP's override) and ID (bit 21).
 */
const POPF_WRITABLE = 0x4_0000n | 0x7fd5n | 0x20_0000n;

const pushf: Sem = (env, insn) => {
  push(env, insn.operandSize, env.state.rflags & 0xfcffffn);
};

const popf: Sem = (env, insn) => {
  const { values, commit } = peekPop(env, insn.operandSize, 1);
  commit();
  const writable = POPF_WRITABLE & mask(insn.operandSize);
  env.state.rflags = (env.state.rflags & ~writable) | (values[0]! & writable) | 2n;
};

function relTarget(insn: X86Insn, env: Parameters<Sem>[0]): bigint {
  const rel = insn.operands[0] as Extract<X86Operand, { kind: "rel" }>;
  return branchTarget(insn, env.state.rip + BigInt(insn.length) + rel.disp);
}

/** Far pointer m16:16/32/64 in memory (operand `at`): offset first, then the selector. */
function readFarPointer(env: Parameters<Sem>[0], insn: X86Insn, at = 0): { selector: number; offset: bigint } {
  const m = insn.operands[at] as MemOperand;
  const ea = effectiveAddress(env.state, insn, m);
  const osz = insn.operandSize;
  const offset = readMem(env, m.seg, ea, osz);
  const selector = Number(readMem(env, m.seg, (ea + BigInt(osz)) & mask(m.addrSize), 2));
  return { selector, offset };
}

/** The segment register LES, LDS, LSS, LFS, LGS load (the spec's arg). */
const FAR_LOAD_SEGS = ["es", "ds", "ss", "fs", "gs"] as const;

/**
 * LDS/LES/LFS/LGS/LSS r, m16:16/32/64 (SDM Vol. 2A "LDS/LES/LFS/LGS/LSS—Load Far Pointer"): the
 * selector goes to the segment register (with the checks a MOV to it makes), then the offset to r.
 */
const loadfar: Sem = (env, insn) => {
  const { selector, offset } = readFarPointer(env, insn, 1);
  env.loadSegment(FAR_LOAD_SEGS[insn.spec.arg!]!, selector);
  writeGpr(env.state, (insn.operands[0] as Extract<X86Operand, { kind: "reg" }>).reg, insn.operandSize, offset);
};

const jmpfar: Sem = (env, insn) => {
  const far = insn.operands[0] as Extract<X86Operand, { kind: "far" }>;
  env.loadSegment("cs", far.selector);
  env.state.nextRip = far.offset;
};

const jmpfarind: Sem = (env, insn) => {
  const { selector, offset } = readFarPointer(env, insn);
  env.loadSegment("cs", selector);
  env.state.nextRip = offset;
};

function farCall(env: Parameters<Sem>[0], insn: X86Insn, selector: number, offset: bigint): void {
  const s = env.state;
  const cs = BigInt(s.seg.cs.selector);
  const ret = s.rip + BigInt(insn.length);
  const osz = insn.operandSize;
  const sp0 = s.gpr[4]!;
  push(env, osz, cs, ret);
  try {
    env.loadSegment("cs", selector);
  } catch (err) {
    s.gpr[4] = sp0;
    throw err;
  }
  s.nextRip = offset;
}

const callfar: Sem = (env, insn) => {
  const far = insn.operands[0] as Extract<X86Operand, { kind: "far" }>;
  farCall(env, insn, far.selector, far.offset);
};

const callfarind: Sem = (env, insn) => {
  const { selector, offset } = readFarPointer(env, insn);
  farCall(env, insn, selector, offset);
};

const retfar: Sem = (env, insn) => {
  const extra = insn.operands[0]?.kind === "imm" ? insn.operands[0].value : 0n;
  const { values, commit } = peekPop(env, insn.operandSize, 2, extra);
  env.loadSegment("cs", Number(values[1]! & 0xffffn));
  commit();
  env.state.nextRip = values[0]!;
};

/**
 * IRET (SDM Vol. 2 IRET, protected-mode and IA-32e paths without task switches or virtual-8086):
 * pops rip, cs, rflags; in 64-bit mode, or when returning to an outer privilege level, also rsp and ss.
 */
const iret: Sem = (env, insn) => {
  // IRETQ of a kernel's interrupt handler, its frame in the data TLB: on Numbers (fast-events.ts).
  if (hasFastEvents(env) && fastIret64(env, insn.operandSize)) return;
  const s = env.state;
  // IRET ends blocking by NMI (SDM Vol. 3 6.7.1); whether it did is kept while it runs, for a VM
  // exit in the middle (an EPT violation on the stack): "NMI unblocking due to IRET" (SDM Vol. 3 27.2.3).
  s.iretUnblockedNmi = s.nmiBlocked === true;
  s.nmiBlocked = false;
  const osz = insn.operandSize;
  const first = peekPop(env, osz, 3);
  const [rip, csv, fl] = first.values as [bigint, bigint, bigint];
  const cs = Number(csv & 0xffffn);
  const outer = s.mode !== "real" && (cs & 3) > (s.seg.cs.selector & 3);
  const popsStack = s.mode === "long64" || outer;
  const all = popsStack ? peekPop(env, osz, 5) : first;
  env.loadSegment("cs", cs);
  if (popsStack) env.loadSegment("ss", Number(all.values[4]! & 0xffffn));
  if (outer) nullMorePrivilegedSegments(s);
  all.commit();
  if (popsStack) s.gpr[4] = all.values[3]! & mask(8);
  // Unlike POPF, IRET loads RF from the frame (SDM Vol. 2 IRET; Vol. 3 17.3.1.1: a #DB handler sets it to resume past an instruction breakpoint).
  const writable = (POPF_WRITABLE | RFLAGS_RF) & mask(osz);
  s.rflags = (s.rflags & ~writable) | (fl & writable) | 2n;
  s.nextRip = rip;
};

/**
 * IRET to an outer privilege level (SDM Vol. 2 IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL): ES, DS, FS
 * and GS holding a data or non-conforming code segment more privileged than the new CPL become
 * null, so the less privileged code cannot use them. As QEMU does it (target/i386 seg_helper.c
 * validate_seg, the reference the kvm-unit-tests corpus is checked against): the selector 0 and
 * the register unusable (VMX access rights bit 16; P cleared), base and limit kept; FS and GS
 * already null are left alone (their base may be in use in 64-bit mode). The CS load of the same
 * IRET has bumped the CPU's systemVersion, so the VM exit's save compares the segments.
 */
function nullMorePrivilegedSegments(s: X86State): void {
  const cpl = s.seg.cs.selector & 3;
  for (const r of ["es", "ds", "fs", "gs"] as const) {
    const seg = s.seg[r];
    if ((r === "fs" || r === "gs") && (seg.selector & 0xfffc) === 0) continue;
    if (seg.attributes & (1 << 16)) continue; // unusable already
    const dpl = (seg.attributes >> 5) & 3;
    const conformingCode = (seg.attributes & 0x18) === 0x18 && (seg.attributes & 4) !== 0;
    if (!conformingCode && dpl < cpl) s.seg[r] = { selector: 0, base: seg.base, limit: seg.limit, attributes: (seg.attributes & ~0x80) | (1 << 16) };
  }
}

/** LOOP (arg 2), LOOPE (1), LOOPNE (0): the count register follows the address size. */
const loop: Sem = (env, insn) => {
  const s = env.state;
  const asz = insn.addressSize;
  const count = (readGpr(s, 1, asz) - 1n) & mask(asz);
  const zf = flag(s, ZF);
  const taken = count !== 0n && (insn.spec.arg === 2 || (insn.spec.arg === 1 ? zf : !zf));
  const target = relTarget(insn, env);
  writeGpr(s, 1, asz, count);
  if (taken) s.nextRip = target;
};

const jrcxz: Sem = (env, insn) => {
  if (readGpr(env.state, 1, insn.addressSize) === 0n) env.state.nextRip = relTarget(insn, env);
};

export const CONTROL_SEMANTICS: Record<string, Sem> = {
  loadfar,
  movsreg, pushseg, popseg, pushf, popf, jmpfar, jmpfarind, callfar, callfarind, retfar, iret, loop, jrcxz,
};
