// KVM's x86 instruction emulator (arch/x86/kvm/emulate.c), modelled by replaying the instruction
// with the machine's own decoder and semantics: guest RAM is reached through the memslots (not
// EPT), and the accesses that hit no RAM go to the MMIO bus, port I/O to the VMM's devices. This is
// the path the talk contrasts with ARM: on x86 KVM must decode the guest instruction itself.

import { decodeX86, executeX86 } from "../isa/index.js";
import { GuestFault, VmExitSignal } from "../state.js";
import { loadGuestState, saveGuestState } from "../vmx/guest-state.js";
import { hexBytes } from "../tracepoints.js";
import { MAX_ITERATIONS_PER_EXECUTION } from "../isa/semantics/string.js";
import type { KvmVcpu } from "./vcpu.js";

export interface EmulationResult {
  ok: boolean;
  message: string;
}

/** x86_emulate_instruction: decode at GUEST_RIP, execute, advance rip; faults are injected. */
export function emulateInstruction(vcpu: KvmVcpu): EmulationResult {
  const { cpu, vmcs } = vcpu.ctx;
  const s = cpu.state;
  loadGuestState(vmcs, s, s.efer);
  vcpu.count("insn_emulation");
  const mmio: { gpa: number; size: number; write: boolean; value: bigint }[] = [];
  cpu.emulating = {
    mmio,
    pio: (port, size, write, value) => pioAccess(vcpu, port, size, write, value),
  };
  const rip = s.rip;
  let bytes = new Uint8Array(0);
  // KVM's emulator runs a REP string instruction on its own (up to the chunk string.ts allows), not per step.
  const budget = cpu.repBudget;
  cpu.repBudget = MAX_ITERATIONS_PER_EXECUTION;
  try {
    const insn = decodeX86((o) => cpu.fetchByte(o), s.mode);
    bytes = insn.bytes;
    vcpu.ctx.emit("kvm_emulate_insn", { csbase: s.seg.cs.base, rip, insn: hexBytes(bytes), mode: s.mode, failed: false });
    cpu.insn = insn;
    s.nextRip = rip + BigInt(insn.length);
    if (s.mode !== "long64") s.nextRip &= 0xffff_ffffn;
    executeX86(cpu, insn);
    s.rip = s.nextRip;
    vcpu.emulated++;
  } catch (e) {
    if (e instanceof GuestFault) {
      vcpu.queueException(e.vector, e.errorCode, e.address);
    } else {
      const why = e instanceof VmExitSignal ? `unexpected exit ${e.info.reason}` : e instanceof Error ? e.message : String(e);
      vcpu.ctx.emit("kvm_emulate_insn", { csbase: s.seg.cs.base, rip, insn: hexBytes(bytes), mode: s.mode, failed: true });
      cpu.emulating = null;
      vcpu.ctx.emit("kvm_userspace_exit", { reason: 17, errno: 0 });
      return { ok: false, message: `KVM internal error. Suberror: 1 (emulation failure) at rip ${"0x" + rip.toString(16)}: ${why}` };
    }
  } finally {
    cpu.emulating = null;
    cpu.repBudget = budget;
    cpu.repDone = 0;
  }
  for (const a of mmio) {
    vcpu.count("mmio_exits");
    if (!a.write) vcpu.ctx.emit("kvm_mmio", { type: 0, len: a.size, gpa: a.gpa, val: 0n });
    vcpu.ctx.emit("kvm_userspace_exit", { reason: 6, errno: 0 });
    vcpu.ctx.emit("kvm_mmio", { type: a.write ? 2 : 1, len: a.size, gpa: a.gpa, val: a.value });
  }
  saveGuestState(vmcs, s);
  return { ok: true, message: `emulated ${hexBytes(bytes)} at ${"0x" + rip.toString(16)}${mmio.length ? ` (${mmio.length} MMIO access${mmio.length > 1 ? "es" : ""})` : ""}` };
}

/** kernel_pio / emulator_pio_in_out: trace, then hand the access to the VMM's device (KVM_EXIT_IO). */
export function pioAccess(vcpu: KvmVcpu, port: number, size: number, write: boolean, value: number): number {
  const dev = vcpu.ctx.pio;
  let v = value;
  if (write) {
    vcpu.ctx.emit("kvm_pio", { rw: 1, port, size, count: 1, val: value });
    vcpu.ctx.emit("kvm_userspace_exit", { reason: 2, errno: 0 });
    dev.write(port, size, value);
  } else {
    vcpu.ctx.emit("kvm_userspace_exit", { reason: 2, errno: 0 });
    v = dev.read(port, size);
    vcpu.ctx.emit("kvm_pio", { rw: 0, port, size, count: 1, val: v });
  }
  return v;
}
