// KVM's x86 instruction emulator (arch/x86/kvm/emulate.c), modelled by replaying the instruction
// with the machine's own decoder and semantics: guest RAM is reached through the memslots (not
// EPT), and the accesses that hit no RAM go to the MMIO bus, port I/O to the VMM's devices. This is
// the path the talk contrasts with ARM: on x86 KVM must decode the guest instruction itself.

import { decodeX86, executeX86 } from "../isa/index.js";
import { GuestFault, VmExitSignal } from "../state.js";
import { VECTOR } from "../vectors.js";
import type { X86Insn } from "../isa/types.js";
import { TF, singleStepTrap } from "../single-step.js";
import { DR6_BS } from "../debug-regs.js";
import { loadGuestState, saveGuestState } from "../vmx/guest-state.js";
import { hexBytes } from "../tracepoints.js";
import { AR } from "../state.js";
import { MAX_ITERATIONS_PER_EXECUTION } from "../isa/semantics/string.js";
import type { KvmVcpu } from "./vcpu.js";
import { KVM_EXIT } from "../../core/kvm-events.js";

/**
 * trace_kvm_emulate_insn_start / _failed (arch/x86/kvm/trace.h, both eras): cs base, the rip the
 * decode started at (_eip - len), the bytes the decoder fetched, and the mode from CS.D/L.
 */
function traceEmulateInsn(vcpu: KvmVcpu, rip: bigint, bytes: Uint8Array, failed: boolean): void {
  const s = vcpu.ctx.cpu.state;
  const cs = s.seg.cs;
  vcpu.ctx.emit("kvm_emulate_insn", { csbase: cs.base, rip, insn: hexBytes(bytes), mode: s.mode, cs_d: AR.db(cs.attributes) === 1, failed });
}

export interface EmulationResult {
  ok: boolean;
  message: string;
}

/**
 * x86_emulate_instruction: decode at GUEST_RIP, execute, advance rip; faults are injected. `opts`:
 * what the emulator allows that the CPU does not (SYSCALL outside 64-bit mode for an AMD guest).
 * After the instruction, RFLAGS.TF requests the single-step #DB (kvm_vcpu_do_singlestep): TF as the
 * instruction found it (init_emulate_ctxt's ctxt->tf), but for SYSCALL/SYSRET as it left it (em_syscall
 * and em_sysexit set ctxt->tf from the new flags), so a SYSCALL whose FMASK clears TF takes none.
 */
export function emulateInstruction(vcpu: KvmVcpu, opts: { syscallOutside64?: boolean } = {}): EmulationResult {
  const { cpu, vmcs } = vcpu.ctx;
  const s = cpu.state;
  loadGuestState(vmcs, s, s.efer);
  vcpu.count("insn_emulation");
  const mmio: { gpa: number; size: number; write: boolean; value: bigint }[] = [];
  cpu.emulating = {
    mmio,
    pio: (port, size, write, value) => pioAccess(vcpu, port, size, write, value),
    ...(opts.syscallOutside64 ? { syscallOutside64: true } : {}),
  };
  const rip = s.rip;
  let bytes = new Uint8Array(0);
  // KVM's emulator runs a REP string instruction on its own (up to the chunk string.ts allows), not per step.
  const budget = cpu.repBudget;
  cpu.repBudget = MAX_ITERATIONS_PER_EXECUTION;
  try {
    let insn: ReturnType<typeof decodeX86>;
    try {
      insn = decodeX86((o) => cpu.fetchByte(o), s.mode);
    } catch (e) {
      // x86_emulate_instruction traces the start whatever the decode returned, then the failure.
      bytes = opcodeBytes(vcpu);
      traceEmulateInsn(vcpu, rip, bytes, false);
      throw e;
    }
    bytes = insn.bytes;
    traceEmulateInsn(vcpu, rip, bytes, false);
    cpu.insn = insn;
    s.nextRip = rip + BigInt(insn.length);
    if (s.mode !== "long64") s.nextRip &= 0xffff_ffffn;
    const tfBefore = (s.rflags & TF) !== 0n;
    executeX86(cpu, insn);
    s.rip = s.nextRip;
    vcpu.emulated++;
    if (singleStepTrap(insn, tfBefore, (s.rflags & TF) !== 0n)) {
      cpu.setDebugRegister(6, cpu.debugRegister(6) | DR6_BS);
      vcpu.queueException(VECTOR.DB);
    }
  } catch (e) {
    if (e instanceof GuestFault) {
      vcpu.queueException(e.vector, e.errorCode, e.address);
    } else {
      const why = e instanceof VmExitSignal ? `unexpected exit ${e.info.reason}` : e instanceof Error ? e.message : String(e);
      traceEmulateInsn(vcpu, rip, bytes, true);
      cpu.emulating = null;
      vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.INTERNAL_ERROR, errno: 0 });
      return { ok: false, message: `KVM internal error. Suberror: 1 (emulation failure) at rip ${"0x" + rip.toString(16)}: ${why}` };
    }
  } finally {
    cpu.emulating = null;
    cpu.repBudget = budget;
    cpu.repDone = 0;
  }
  // x86.c (v4.1 and today): a write is traced by write_mmio before KVM_RUN returns to the VMM
  // (KVM_EXIT_MMIO); a read by read_exit_mmio as unsatisfied, then by read_prepare with the VMM's
  // data when the emulator re-runs on the next KVM_RUN.
  for (const a of mmio) {
    // An in-kernel device (vcpu_mmio_read/write found it on the kvm_io_bus): traced, no KVM_EXIT_MMIO.
    if (vcpu.ctx.bus.find(a.gpa)?.device.inKernel) {
      vcpu.ctx.emit("kvm_mmio", { type: a.write ? 2 : 1, len: a.size, gpa: a.gpa, val: a.value });
      continue;
    }
    vcpu.count("mmio_exits");
    if (a.write) {
      vcpu.ctx.emit("kvm_mmio", { type: 2, len: a.size, gpa: a.gpa, val: a.value });
      vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.MMIO, errno: 0 });
    } else {
      vcpu.ctx.emit("kvm_mmio", { type: 0, len: a.size, gpa: a.gpa, val: 0n });
      vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.MMIO, errno: 0 });
      vcpu.ctx.emit("kvm_mmio", { type: 1, len: a.size, gpa: a.gpa, val: a.value });
    }
  }
  saveGuestState(vmcs, s);
  return { ok: true, message: `emulated ${hexBytes(bytes)} at ${"0x" + rip.toString(16)}${mmio.length ? ` (${mmio.length} MMIO access${mmio.length > 1 ? "es" : ""})` : ""}` };
}

/** VMCALL's bytes (0f 01 c1): what vmx_patch_hypercall writes over a VMMCALL. */
const VMCALL_BYTES = [0x0f, 0x01, 0xc1];

/**
 * em_hypercall on #UD (EmulateOnUD): a VMMCALL on this Intel host is rewritten in guest memory as
 * VMCALL (kvm_fix_hypercall / emulator_fix_hypercall → vmx_patch_hypercall, through the guest's page
 * tables: emulator_write_emulated) and RIP stays, so the guest re-executes the patched instruction
 * (KVM_X86_QUIRK_FIX_HYPERCALL_INSN, on by default; v4.1 always patches). A fault on the write is
 * injected instead. Returns what happened.
 */
export function patchHypercall(vcpu: KvmVcpu, insn: X86Insn): string {
  const { cpu, vmcs } = vcpu.ctx;
  const s = cpu.state;
  loadGuestState(vmcs, s, s.efer);
  vcpu.count("insn_emulation");
  traceEmulateInsn(vcpu, s.rip, insn.bytes, false);
  cpu.emulating = { mmio: [] };
  try {
    const lin = cpu.linear("cs", s.rip);
    VMCALL_BYTES.forEach((b, i) => cpu.writeLinear((lin + BigInt(i)) & ((1n << 64n) - 1n), 1, BigInt(b)));
  } catch (e) {
    if (!(e instanceof GuestFault)) throw e;
    vcpu.queueException(e.vector, e.errorCode, e.address);
    return `VMMCALL: patching it faulted (vector ${e.vector}), injected`;
  } finally {
    cpu.emulating = null;
  }
  saveGuestState(vmcs, s);
  return "VMMCALL patched to VMCALL (em_hypercall): the guest executes it again";
}

/** The instruction at the guest's RIP as KVM's decoder would see it, or null when its fetch faults. */
export function decodeAtRip(vcpu: KvmVcpu): X86Insn | null {
  const { cpu, vmcs } = vcpu.ctx;
  const s = cpu.state;
  loadGuestState(vmcs, s, s.efer);
  try {
    return decodeX86((o) => cpu.fetchByte(o), s.mode);
  } catch {
    return null;
  }
}

/** Legacy prefixes (SDM Vol. 2 2.1.1): lock/rep, segment overrides, operand and address size. */
const LEGACY_PREFIXES = new Set([0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0x66, 0x67]);

/**
 * handle_exception's #UD intercept (v4.1 vmx.c; today handle_ud in x86.c): KVM runs its emulator
 * with EMULTYPE_TRAP_UD. x86_decode_insn fetches the prefixes and the opcode (0f, 0f 38 and 0f 3a
 * escapes included), finds an instruction its opcode table does not have (d == 0, e.g. ud2 0f 0b)
 * or one not marked EmulateOnUD, and fails; x86_emulate_instruction (today
 * x86_decode_emulated_instruction) traces kvm_emulate_insn either way, counts insn_emulation,
 * and the failed decode makes KVM queue #UD for the guest. Every #UD this machine raises is such an
 * instruction: the trace shows the bytes up to and including the opcode (KVM fetches a ModRM only
 * for opcodes its table knows).
 */
export function trapUdDecode(vcpu: KvmVcpu): void {
  const { cpu, vmcs } = vcpu.ctx;
  const s = cpu.state;
  loadGuestState(vmcs, s, s.efer);
  vcpu.count("insn_emulation");
  traceEmulateInsn(vcpu, s.rip, opcodeBytes(vcpu), false);
}

/** The bytes x86_decode_insn fetches before it gives up on an opcode its table lacks: prefixes, REX, opcode. */
function opcodeBytes(vcpu: KvmVcpu): Uint8Array {
  const cpu = vcpu.ctx.cpu;
  const bytes: number[] = [];
  const fetch = (): number | null => {
    if (bytes.length >= 15) return null;
    try {
      const b = cpu.fetchByte(bytes.length);
      bytes.push(b);
      return b;
    } catch {
      return null; // the fetch faults: the decode stops there
    }
  };
  let b = fetch();
  while (b !== null && LEGACY_PREFIXES.has(b)) b = fetch();
  if (b !== null && cpu.state.mode === "long64" && (b & 0xf0) === 0x40) b = fetch();
  if (b === 0x0f) {
    b = fetch();
    if (b === 0x38 || b === 0x3a) fetch();
  }
  return Uint8Array.from(bytes);
}

/**
 * emulator_pio_in_out: kvm_pio traced; kernel_pio reaches an in-kernel device (the PIC) on
 * KVM_PIO_BUS without leaving the kernel, else the access goes to the VMM's device (KVM_EXIT_IO).
 */
export function pioAccess(vcpu: KvmVcpu, port: number, size: number, write: boolean, value: number): number {
  const dev = vcpu.ctx.pio;
  const user = !dev.find(port)?.device.inKernel;
  let v = value;
  if (write) {
    vcpu.ctx.emit("kvm_pio", { rw: 1, port, size, count: 1, val: value });
    if (user) vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.IO, errno: 0 });
    dev.write(port, size, value);
  } else {
    if (user) vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.IO, errno: 0 });
    v = dev.read(port, size);
    vcpu.ctx.emit("kvm_pio", { rw: 0, port, size, count: 1, val: v });
  }
  return v;
}
