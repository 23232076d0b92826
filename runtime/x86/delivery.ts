// Event delivery on the modelled x86 CPU (SDM Vol. 3 6.12 "Exception and Interrupt Handling",
// 6.14 for IA-32e mode, 20.1.4 for real-address mode): an exception or interrupt either exits
// (the exception bitmap, SDM 25.2) or goes through the guest's IDT/IVT, pushing its frame; a fault
// during delivery escalates as SDM Table 6-5 says (#DF, then a triple fault, exit reason 2).

import type { X86Seg, X86MemAccess, X86State, X86SystemSegment } from "./env.js";
import { EFER, GuestFault, RFLAGS_IF, VmExitSignal, type ExitInfo } from "./state.js";

const RFLAGS_TF = 1n << 8n, RFLAGS_NT = 1n << 14n, RFLAGS_RF = 1n << 16n, RFLAGS_VM = 1n << 17n;
import { INTR_INFO, INTR_TYPE, encodeQual } from "./vmx/qualification.js";
import { EXIT } from "./vmx/reasons.js";
import { doubleFaultClass, ERROR_CODE_VECTORS, VECTOR } from "./vectors.js";
import { MASK64 } from "../core/bits.js";
import { fastPushFrame64, hasFastEvents } from "./fast-events.js";

/** What delivery needs of the CPU (X86Cpu). */
export interface DeliveryCpu {
  readonly state: X86State;
  /** Bumped on anything that may change system state (the VM exit's guest-state save compares then). */
  systemVersion: number;
  exceptionExits(vector: number, code: number | undefined): boolean;
  readLinear(lin: bigint, size: number): bigint;
  write(seg: X86Seg, offset: bigint, value: bigint, a: X86MemAccess): void;
  loadSegment(seg: X86Seg, selector: number): void;
  systemSegment(which: "ldtr" | "tr"): X86SystemSegment;
  raise(vector: number, errorCode?: number): never;
  /** A #DB's DR6 bits (the CPU applies them on delivery, SDM Vol. 3 17.2.3). */
  debugException(payload: bigint): void;
}

/**
 * Deliver an exception or interrupt to the guest: an exit if the exception bitmap says so
 * (unless the event is being injected by VM entry), otherwise through the guest IDT. Faults during
 * delivery escalate to #DF, and a fault delivering #DF is a triple fault (exit reason 2).
 * Throws VmExitSignal for an exit (with the IDT-vectoring information when the exit interrupted
 * delivery, SDM 27.2.4).
 *
 * @param type interruption type (SDM Table 24-15): hardware exception, software interrupt (INT n),
 *   software exception (INT3/INTO).
 * @param returnRip the address the frame returns to: the faulting instruction, or the next one
 *   for INT n/INT3/INTO (default: rip).
 */
export function deliverEvent(
  cpu: DeliveryCpu,
  vector: number,
  errorCode: number | undefined,
  injected: boolean,
  address?: bigint,
  type: number = INTR_TYPE.HW_EXCEPTION,
  returnRip?: bigint,
): void {
  const hasCode = type === INTR_TYPE.HW_EXCEPTION && ERROR_CODE_VECTORS.has(vector);
  const code = hasCode ? (errorCode ?? 0) : undefined;
  // The event's interruption information (SDM Table 24-15), for an exit only: encoded when one happens.
  const intrInfo = (): number => Number(encodeQual(INTR_INFO, { vector, type, error_code_valid: hasCode ? 1 : 0, valid: 1 }));
  // The exception bitmap covers exceptions (hardware and INT3/INTO), not INT n (SDM 25.2).
  if (!injected && type !== INTR_TYPE.SW_INTERRUPT && cpu.exceptionExits(vector, code)) {
    // #PF: the linear address; #DB: the DR6 bits of the debug exception (SDM Vol. 3 Table 27-1).
    const info: ExitInfo = { reason: EXIT.EXCEPTION_NMI, qualification: vector === VECTOR.PF || vector === VECTOR.DB ? (address ?? 0n) : 0n, intrInfo: intrInfo(), intrError: code };
    throw new VmExitSignal(info);
  }
  if (vector === VECTOR.PF && address !== undefined) cpu.state.cr2 = address;
  if (vector === VECTOR.DB) cpu.debugException(address ?? 0n);
  try {
    pushFrame(cpu, vector, code, returnRip, type === INTR_TYPE.SW_INTERRUPT || type === INTR_TYPE.SW_EXCEPTION);
  } catch (e) {
    if (e instanceof VmExitSignal) {
      // The exit interrupted event delivery: the processor records the event (SDM 27.2.4).
      throw new VmExitSignal({ ...e.info, idtVectoring: intrInfo(), intrError: e.info.intrError ?? code });
    }
    if (!(e instanceof GuestFault)) throw e;
    if (vector === VECTOR.DF && type === INTR_TYPE.HW_EXCEPTION) throw new VmExitSignal({ reason: EXIT.TRIPLE_FAULT, qualification: 0n });
    // SDM Vol. 3 Table 6-5: a contributory fault while delivering a contributory one, or a #PF or
    // contributory fault while delivering a #PF, is #DF; after a benign event (interrupts, INT n,
    // NMI, #DB, #BP ...) the second exception is delivered on its own.
    const first = type === INTR_TYPE.HW_EXCEPTION ? doubleFaultClass(vector) : "benign";
    const second = doubleFaultClass(e.vector);
    if ((first === "contributory" && second === "contributory") || (first === "page-fault" && second !== "benign")) deliverEvent(cpu, VECTOR.DF, 0, false);
    else deliverEvent(cpu, e.vector, e.errorCode, false, e.address);
  }
}

/** Protected-mode and IA-32e delivery through the IDT's gate (SDM 6.12.1, 6.14.1-6.14.5). */
function pushFrame(cpu: DeliveryCpu, vector: number, code: number | undefined, ret: bigint | undefined, software: boolean): void {
  // A kernel's interrupt at CPL 0 in 64-bit mode, its memory in the data TLB: on Numbers (fast-events.ts).
  // (It changes RIP, RSP, RFLAGS and memory only; the general path may change segments and the mode.)
  if (hasFastEvents(cpu) && fastPushFrame64(cpu, vector, code, ret)) return;
  cpu.systemVersion++;
  const s = cpu.state;
  const returnRip = ret ?? s.rip;
  if (s.mode === "real") return pushRealModeFrame(cpu, vector, returnRip);
  const long = (s.efer & EFER.LMA) !== 0n;
  const gateSize = long ? 16 : 8;
  if (vector * gateSize + gateSize - 1 > s.idtr.limit) cpu.raise(VECTOR.GP, vector * 8 + 2);
  const gate = s.idtr.base + BigInt(vector * gateSize);
  const lo = cpu.readLinear(gate, 8);
  const hi = long ? cpu.readLinear(gate + 8n, 8) : 0n;
  const type = Number((lo >> 40n) & 0xfn);
  if (!((lo >> 47n) & 1n)) cpu.raise(VECTOR.NP, vector * 8 + 2);
  if (type !== 0xe && type !== 0xf) cpu.raise(VECTOR.GP, vector * 8 + 2);
  // INT n, INT3 and INTO through a gate less privileged than the CPL: #GP(vector × 8 + 2) (SDM Vol. 3
  // 6.12.1.1, "Protection of Exception- and Interrupt-Handler Procedures"); not for hardware events.
  if (software && Number((lo >> 45n) & 3n) < (s.seg.cs.selector & 3)) cpu.raise(VECTOR.GP, vector * 8 + 2);
  let target = (lo & 0xffffn) | (((lo >> 48n) & 0xffffn) << 16n);
  if (long) target |= (hi & 0xffff_ffffn) << 32n;
  const selector = Number((lo >> 16n) & 0xffffn);
  const w = long ? 8 : 4;
  // A handler more privileged than the interrupted code runs on the stack the TSS names for its
  // privilege level (SDM Vol. 3 6.12.1.1, 6.14.4): RSP0-2 at 4 + 8 × DPL in the 64-bit TSS (SS
  // becomes a null selector with RPL = the new CPL), SS0:ESP0-style pairs at 4 + 8 × DPL in a 32-bit TSS.
  const oldCpl = s.seg.cs.selector & 3;
  // The new CPL is the DPL of the gate's code segment (its descriptor in the GDT), not the selector's RPL.
  const newCpl = oldCpl === 0 ? 0 : Number((cpu.readLinear(s.gdtr.base + BigInt(selector & ~7), 8) >> 45n) & 3n);
  const switchStack = newCpl < oldCpl;
  const pushOldStack = long || switchStack;
  const frame: bigint[] = pushOldStack
    ? [BigInt(s.seg.ss.selector), s.gpr[4]!, s.rflags, BigInt(s.seg.cs.selector), returnRip]
    : [s.rflags, BigInt(s.seg.cs.selector), returnRip];
  if (code !== undefined) frame.push(BigInt(code));
  let sp = long ? s.gpr[4]! & ~0xfn : s.gpr[4]! & 0xffff_ffffn;
  let newSs: number | undefined;
  if (switchStack) {
    const tss = cpu.systemSegment("tr").base;
    if (long) {
      sp = cpu.readLinear(tss + BigInt(4 + 8 * newCpl), 8) & ~0xfn;
      newSs = newCpl;
    } else {
      sp = cpu.readLinear(tss + BigInt(4 + 8 * newCpl), 4);
      newSs = Number(cpu.readLinear(tss + BigInt(8 + 8 * newCpl), 2));
    }
  }
  // IA-32e interrupt stack table (SDM Vol. 3 6.14.5): a gate's IST field (bits 34:32) switches to
  // the 64-bit TSS's IST n (offset 0x24 + 8 × (n - 1)), aligned to 16 bytes.
  const ist = long ? Number((lo >> 32n) & 7n) : 0;
  if (ist !== 0) sp = cpu.readLinear(cpu.systemSegment("tr").base + BigInt(0x24 + 8 * (ist - 1)), 8) & ~0xfn;
  if (newSs !== undefined && !long) cpu.loadSegment("ss", newSs);
  // On the inner stack of a privilege change the pushes are supervisor-mode accesses (SDM Vol. 3 4.6).
  const access: X86MemAccess = { size: w as 4 | 8, write: true, supervisor: switchStack };
  for (const v of frame) {
    sp = (sp - BigInt(w)) & (long ? MASK64 : 0xffff_ffffn);
    cpu.write("ss", sp, v, access);
  }
  cpu.loadSegment("cs", switchStack ? (selector & ~3) | newCpl : selector);
  if (newSs !== undefined && long) cpu.loadSegment("ss", newSs);
  s.gpr[4] = sp;
  s.rip = target;
  // Through an interrupt or trap gate the processor clears TF, VM, RF and NT; an interrupt gate also IF (SDM Vol. 3 6.12.1.3).
  s.rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM | (type === 0xe ? RFLAGS_IF : 0n));
}

/**
 * Real-address-mode delivery (SDM Vol. 3 20.1.4, "Interrupt and Exception Handling"): the vector's
 * 4-byte IVT entry (offset, segment) at IDTR.base + 4 × vector (#GP past IDTR.limit); FLAGS, CS
 * and IP pushed as 16-bit words on SS:SP; IF, TF and AC cleared; no error code.
 */
function pushRealModeFrame(cpu: DeliveryCpu, vector: number, returnRip: bigint): void {
  const s = cpu.state;
  if (vector * 4 + 3 > s.idtr.limit) cpu.raise(VECTOR.GP, vector * 8 + 2);
  const entry = cpu.readLinear(s.idtr.base + BigInt(vector * 4), 4);
  let sp = s.gpr[4]! & 0xffffn;
  for (const v of [s.rflags & 0xffffn, BigInt(s.seg.cs.selector), returnRip & 0xffffn]) {
    sp = (sp - 2n) & 0xffffn;
    cpu.write("ss", sp, v, { size: 2, write: true });
  }
  cpu.loadSegment("cs", Number((entry >> 16n) & 0xffffn));
  s.gpr[4] = (s.gpr[4]! & ~0xffffn) | sp;
  s.rip = entry & 0xffffn;
  s.rflags &= ~(RFLAGS_IF | (1n << 8n) | (1n << 18n));
}
