// Event delivery on the modelled x86 CPU (SDM Vol. 3 6.12 "Exception and Interrupt Handling",
// 6.14 for IA-32e mode, 20.1.4 for real-address mode): an exception or interrupt either exits
// (the exception bitmap, SDM 25.2) or goes through the guest's IDT/IVT, pushing its frame; a fault
// during delivery escalates as SDM Table 6-5 says (#DF, then a triple fault, exit reason 2).

import type { X86Seg, X86MemAccess, X86State, X86SystemSegment } from "./env.js";
import { EFER, GuestFault, RFLAGS_IF, VmExitSignal, type ExitInfo } from "./state.js";
import { INTR_INFO, INTR_TYPE, encodeQual } from "./vmx/qualification.js";
import { EXIT } from "./vmx/reasons.js";
import { doubleFaultClass, ERROR_CODE_VECTORS, VECTOR } from "./vectors.js";
import { MASK64 } from "../core/bits.js";

/** TF (bit 8), NT (14), RF (16), VM (17): cleared by delivery through an interrupt or trap gate. */
const RFLAGS_CLEARED_BY_GATE = (1n << 8n) | (1n << 14n) | (1n << 16n) | (1n << 17n);

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
  cpu.systemVersion++;
  const hasCode = type === INTR_TYPE.HW_EXCEPTION && ERROR_CODE_VECTORS.has(vector);
  const code = hasCode ? (errorCode ?? 0) : undefined;
  const intrInfo = Number(encodeQual(INTR_INFO, { vector, type, error_code_valid: hasCode ? 1 : 0, valid: 1 }));
  // The exception bitmap covers exceptions (hardware and INT3/INTO), not INT n (SDM 25.2).
  if (!injected && type !== INTR_TYPE.SW_INTERRUPT && cpu.exceptionExits(vector, code)) {
    const info: ExitInfo = { reason: EXIT.EXCEPTION_NMI, qualification: vector === VECTOR.PF ? (address ?? 0n) : 0n, intrInfo, intrError: code };
    throw new VmExitSignal(info);
  }
  if (vector === VECTOR.PF && address !== undefined) cpu.state.cr2 = address;
  try {
    pushFrame(cpu, vector, code, returnRip ?? cpu.state.rip);
  } catch (e) {
    if (e instanceof VmExitSignal) {
      // The exit interrupted event delivery: the processor records the event (SDM 27.2.4).
      throw new VmExitSignal({ ...e.info, idtVectoring: intrInfo, intrError: e.info.intrError ?? code });
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
function pushFrame(cpu: DeliveryCpu, vector: number, code: number | undefined, returnRip: bigint): void {
  const s = cpu.state;
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
  let target = (lo & 0xffffn) | (((lo >> 48n) & 0xffffn) << 16n);
  if (long) target |= (hi & 0xffff_ffffn) << 32n;
  const selector = Number((lo >> 16n) & 0xffffn);
  const w = long ? 8 : 4;
  const frame: bigint[] = long
    ? [BigInt(s.seg.ss.selector), s.gpr[4]!, s.rflags, BigInt(s.seg.cs.selector), returnRip]
    : [s.rflags, BigInt(s.seg.cs.selector), returnRip];
  if (code !== undefined) frame.push(BigInt(code));
  let sp = long ? s.gpr[4]! & ~0xfn : s.gpr[4]! & 0xffff_ffffn;
  // A handler more privileged than the interrupted code (SDM Vol. 3 6.12.1, 6.14.4) runs on the
  // stack the TSS gives for its CPL (the code segment's DPL): IA-32e RSPn at 4 + 8n with SS a null
  // selector of RPL n; legacy SSn:ESPn at 8 + 8n / 4 + 8n, and the frame then holds the old SS:ESP.
  const oldCpl = s.seg.cs.selector & 3;
  const newCpl = oldCpl === 0 ? 0 : Number((cpu.readLinear(s.gdtr.base + BigInt(selector & ~7), 8) >> 45n) & 3n);
  let newSs: number | null = null;
  if (newCpl < oldCpl) {
    const tss = cpu.systemSegment("tr").base;
    if (long) {
      sp = cpu.readLinear(tss + BigInt(4 + 8 * newCpl), 8) & ~0xfn;
      newSs = newCpl;
    } else {
      frame.unshift(BigInt(s.seg.ss.selector), s.gpr[4]! & 0xffff_ffffn);
      sp = cpu.readLinear(tss + BigInt(4 + 8 * newCpl), 4);
      newSs = Number(cpu.readLinear(tss + BigInt(8 + 8 * newCpl), 2));
    }
  }
  // IA-32e interrupt stack table (SDM Vol. 3 6.14.5): a gate's IST field (bits 34:32) switches to
  // the 64-bit TSS's IST n (offset 0x24 + 8 × (n - 1)), aligned to 16 bytes.
  const ist = long ? Number((lo >> 32n) & 7n) : 0;
  if (ist !== 0) sp = cpu.readLinear(cpu.systemSegment("tr").base + BigInt(0x24 + 8 * (ist - 1)), 8) & ~0xfn;
  if (newSs !== null) {
    // The new SS is loaded before the pushes (they go to the new stack).
    if (long) s.seg.ss = { selector: newSs, base: 0n, limit: 0, attributes: 1 << 16 };
    else cpu.loadSegment("ss", newSs);
  }
  for (const v of frame) {
    sp = (sp - BigInt(w)) & (long ? MASK64 : 0xffff_ffffn);
    cpu.write("ss", sp, v, { size: w as 4 | 8, write: true });
  }
  cpu.loadSegment("cs", newSs !== null ? (selector & ~3) | newCpl : selector);
  s.gpr[4] = sp;
  s.rip = target;
  // SDM Vol. 3 6.12.1.3: both gate types clear TF, VM, RF and NT; an interrupt gate IF too.
  s.rflags &= ~RFLAGS_CLEARED_BY_GATE;
  if (type === 0xe) s.rflags &= ~RFLAGS_IF;
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
