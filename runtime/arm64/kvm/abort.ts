// Stage-2 aborts, as KVM/arm64 handled them (Linux v4.1 arch/arm/kvm/mmu.c kvm_handle_guest_abort,
// user_mem_abort, coherent_cache_guest_page; arch/arm/kvm/mmio.c io_mem_abort, decode_hsr,
// kvm_handle_mmio_return): RAM is mapped page by page in stage 2 (cleaning the page to the point of
// coherency while the guest's caches are off); an IPA outside every memslot is MMIO, emulated from
// the syndrome alone — which the architecture only provides for single-register accesses (ISV).

import type { HandleResult } from "../../core/machine.js";
import { decodeEsr, EC } from "../esr.js";
import { decodeA64, disassembleA64, executeA64 } from "../isa/index.js";
import type { A64Env, A64MemAccess } from "../env.js";
import { MmuFault } from "../mmu.js";
import { ERRNO, KVM_EXIT } from "../../core/kvm-events.js";
import type { KvmVcpu } from "./vcpu.js";

const MMIO_READ_UNSATISFIED = 0;
const MMIO_READ = 1;
const MMIO_WRITE = 2;
const KVM_EXIT_MMIO = KVM_EXIT.MMIO!;

import { hex, MASK64 } from "../../core/bits.js";
const resume = (message: string): HandleResult => ({ action: "resume", message });
const halt = (message: string): HandleResult => ({ action: "halt", message });

/** kvm_handle_guest_abort: EC 0x20 (IABT_LOW) and 0x24 (DABT_LOW). */
export function handleGuestAbort(vcpu: KvmVcpu): HandleResult {
  const cpu = vcpu.cpu;
  const esr = cpu.reg("ESR_EL2");
  const far = cpu.reg("FAR_EL2");
  const d = decodeEsr(esr);
  const isIabt = d.ec === EC.IABT_LOW;
  // kvm_vcpu_get_fault_ipa: HPFAR_EL2.FIPA << 8 — the IPA at 4 KiB granularity.
  const faultIpa = Number((cpu.reg("HPFAR_EL2") & 0xf_ffff_fff0n) << 8n);
  vcpu.ctx.emit("kvm_guest_fault", { vcpu_pc: vcpu.state.pc, hsr: esr, hxfar: far, ipa: faultIpa });
  const fsc = (isIabt ? d.fields.ifsc! : d.fields.dfsc!) & 0x3c;
  if (fsc !== 0x04 && fsc !== 0x0c) {
    // KVM_RUN fails: kvm_vcpu_ioctl traces kvm_userspace_exit with the errno.
    vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.UNKNOWN!, errno: -ERRNO.EFAULT });
    return halt(`Unsupported FSC: EC=${hex(d.ec)} xFSC=${hex(fsc)} ESR_EL2=${hex(esr)}: KVM returns -EFAULT and the VM stops`);
  }
  if (!vcpu.ctx.memory.isRam(faultIpa)) {
    if (isIabt) {
      // Prefetch abort on an I/O address: KVM injects an external abort into the guest.
      vcpu.injectAbort(true, far);
      return resume(`instruction fetch from ${hex(faultIpa)}, which is not RAM: prefetch abort injected`);
    }
    // The IPA is reported as [MAX:12]; complete it with the bottom 12 bits of the faulting VA.
    return ioMemAbort(vcpu, faultIpa + Number(far & 0xfffn), d.fields);
  }
  return userMemAbort(vcpu, faultIpa, isIabt);
}

/** user_mem_abort: map the host page backing the IPA into stage 2. */
function userMemAbort(vcpu: KvmVcpu, faultIpa: number, isIabt: boolean): HandleResult {
  const s2 = vcpu.stage2;
  const m = s2.mapPage(faultIpa);
  vcpu.count("stage2_maps");
  vcpu.cpu.mmu.flush();
  // coherent_cache_guest_page: with the guest's caches off it reads memory directly, so the page
  // must be cleaned to the point of coherency first.
  const flush = !vcpu.cacheEnabled();
  if (flush) {
    vcpu.count("dcache_flushes");
    vcpu.count("dcache_flush_bytes", m.size);
    vcpu.lastFlushBytes += m.size;
  }
  vcpu.ctx.emit("exitlab_stage2_map", { ipa: m.ipa, size: m.size, flushed: flush, exec: isIabt });
  return resume(`mapped ${hex(m.ipa)}..${hex(m.ipa + m.size - 1)} in stage 2 (${m.size / 1024} KiB page${flush ? ", dcache cleaned: guest caches off" : ""})`);
}

/** io_mem_abort: emulate an MMIO access from the syndrome (or, opt-in, by decoding the instruction). */
function ioMemAbort(vcpu: KvmVcpu, ipa: number, iss: Record<string, number>): HandleResult {
  if (!iss.isv) {
    if (vcpu.ctx.pairMmio()) return emulateByDecoding(vcpu);
    const what = `MMIO access at ${hex(ipa)} by the instruction at ${hex(vcpu.state.pc)} gives no syndrome (ISV = 0)`;
    const hint = "(`set pair_mmio on` makes KVM decode the instruction)";
    if (vcpu.ctx.settings.era === "2015") {
      // v4.1 io_mem_abort: kvm_err("load/store instruction decoding not implemented"), return
      // -ENOSYS; KVM_RUN fails with it (run->exit_reason still KVM_EXIT_UNKNOWN).
      vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.UNKNOWN!, errno: -ERRNO.ENOSYS });
      return halt(`${what}: load/store instruction decoding not implemented; KVM_RUN returns -ENOSYS and the VM stops ${hint}`);
    }
    // Today's io_mem_abort: a VMM that enabled KVM_CAP_ARM_NISV_TO_USER (QEMU does) gets
    // KVM_EXIT_ARM_NISV with the IPA and the sanitized ISS; KVM_RUN returns 0.
    vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.ARM_NISV!, errno: 0 });
    return halt(`${what}: KVM_RUN returns KVM_EXIT_ARM_NISV to the VMM, which cannot emulate the access either, and the VM stops ${hint}`);
  }
  // decode_hsr: length from SAS, direction from WnR, register from SRT, sign extension from SSE.
  const len = 1 << iss.sas!;
  const isWrite = iss.wnr === 1;
  const rt = iss.srt!;
  const a: A64MemAccess = { size: len as 1 | 2 | 4 | 8, write: isWrite, rt, signed: iss.sse === 1, sf: iss.sf === 1, acqrel: iss.ar === 1, syndromeValid: true, mustAlign: false };
  const { text, data } = mmioAccess(vcpu, ipa, a, isWrite ? vcpu.state.readX(rt) : 0n);
  if (!isWrite) vcpu.state.writeX(rt, data);
  vcpu.skipInstruction();
  return resume(text);
}

/** One MMIO access by the VMM (QEMU: the device is in user space) with KVM's trace; `data` is what a read returns for Rt. */
function mmioAccess(vcpu: KvmVcpu, ipa: number, a: A64MemAccess, value: bigint): { text: string; data: bigint } {
  const { bus, emit } = vcpu.ctx;
  const len = a.size;
  const region = bus.find(ipa);
  // An in-kernel device (the vGIC distributor): io_mem_abort hands the access to the kvm_io_bus
  // (v4.1: vgic_handle_mmio) and resumes the guest; the kvm_mmio events are the same, without the
  // trip to user space.
  const inKernel = region?.device.inKernel === true;
  if (inKernel) {
    vcpu.count("mmio_exit_kernel");
    vcpu.lastKernelMmio = true;
  } else {
    vcpu.count("mmio_exit_user");
    vcpu.lastUserspace = true;
  }
  // No device at ipa: QEMU ignores writes and reads as zero (unassigned memory on mach-virt).
  const device = region !== undefined;
  if (a.write) {
    const data = value & mask(len);
    emit("kvm_mmio", { type: MMIO_WRITE, len, gpa: ipa, val: data });
    if (!inKernel) emit("kvm_userspace_exit", { reason: KVM_EXIT_MMIO, errno: 0 });
    if (device) bus.write(ipa, len, data);
    return { text: `MMIO write of ${len} bytes at ${hex(ipa)}: ${hex(data)} (${inKernel ? `emulated in the kernel: ${region.device.name}` : device ? "emulated by the VMM" : "no device there: ignored"})`, data };
  }
  // io_mem_abort traces the read as unsatisfied; kvm_handle_mmio_return, on the next KVM_RUN,
  // traces it again with the data the VMM supplied.
  emit("kvm_mmio", { type: MMIO_READ_UNSATISFIED, len, gpa: ipa, val: 0n });
  if (!inKernel) emit("kvm_userspace_exit", { reason: KVM_EXIT_MMIO, errno: 0 });
  let data = device ? bus.read(ipa, len) & mask(len) : 0n;
  // kvm_handle_mmio_return: sign-extend when SSE; Linux 4.1 left the result 64-bit even for a W
  // register, later kernels (the "today" era) truncate to 32 bits unless SF.
  if (a.signed && len < 8) {
    const m = 1n << BigInt(len * 8 - 1);
    data = ((data ^ m) - m) & MASK64;
  }
  if (vcpu.ctx.settings.era === "today" && !a.sf) data &= 0xffff_ffffn;
  emit("kvm_mmio", { type: MMIO_READ, len, gpa: ipa, val: data });
  return { text: `MMIO read of ${len} bytes at ${hex(ipa)}: ${hex(data)} into ${a.sf ? "x" : "w"}${a.rt}${device ? "" : " (no device there: reads as zero)"}`, data };
}

function mask(len: number): bigint {
  return (1n << BigInt(8 * len)) - 1n;
}

/**
 * The talk's open challenge, opt-in (`set pair_mmio on`): fetch the faulting instruction through
 * the guest's own translation, decode it, and run its semantics with every access going to the
 * device (or RAM), so ldp/stp and writeback forms work on MMIO.
 */
function emulateByDecoding(vcpu: KvmVcpu): HandleResult {
  const cpu = vcpu.cpu;
  const pc = vcpu.state.pc;
  let word: number;
  try {
    const t = cpu.mmu.walk(pc, "fetch", vcpu.state.el);
    word = vcpu.ctx.memory.read32(t.pa);
  } catch (e) {
    return { action: "halt", message: `cannot fetch the instruction at ${hex(pc)} to emulate it: ${e instanceof MmuFault ? "not mapped" : String(e)}` };
  }
  const insn = decodeA64(word);
  vcpu.ctx.emit("kvm_mmio_emulate", { vcpu_pc: pc, instr: word, cpsr: cpu.pstate });
  const refuse = (what: string): never => {
    throw new Error(`${disassembleA64(word, pc)}: ${what} cannot be emulated on MMIO`);
  };
  const access = (va: bigint): number => {
    const t = cpu.mmu.walk(va, "read", vcpu.state.el === 0 ? 0 : 1);
    return t.pa;
  };
  const env: A64Env = {
    state: vcpu.state,
    load: (va, a) => {
      const pa = safePa(access, va);
      if (vcpu.ctx.memory.isRam(pa)) return vcpu.ctx.memory.read(pa, a.size);
      return mmioAccess(vcpu, pa, a, 0n).data & mask(a.size);
    },
    store: (va, value, a) => {
      const pa = safePa(access, va);
      if (vcpu.ctx.memory.isRam(pa)) return vcpu.ctx.memory.write(pa, a.size, value);
      mmioAccess(vcpu, pa, a, value);
    },
    readSysreg: () => refuse("a system register access"),
    writeSysreg: () => refuse("a system register access"),
    writePstate: () => refuse("a PSTATE write"),
    sys: () => refuse("a system instruction"),
    call: () => refuse("an exception-generating instruction"),
    eret: () => refuse("ERET"),
    wait: () => refuse("WFI/WFE"),
    barrier: () => undefined,
    undefinedInstruction: () => refuse("an undefined instruction"),
  };
  vcpu.state.nextPc = pc + 4n;
  try {
    executeA64(env, insn);
  } catch (e) {
    return { action: "halt", message: `pair_mmio: ${e instanceof Error ? e.message : String(e)}` };
  }
  vcpu.state.pc = vcpu.state.nextPc;
  vcpu.emulated++;
  return resume(`emulated \`${disassembleA64(word, pc)}\` on MMIO by decoding it (pair_mmio)`);
}

function safePa(walk: (va: bigint) => number, va: bigint): number {
  try {
    return walk(va);
  } catch (e) {
    if (e instanceof MmuFault && e.stage === 2 && !e.s1ptw) return e.ipa; // MMIO: no stage-2 mapping, the IPA is the device address
    throw new Error(`address ${hex(va)} does not translate`);
  }
}
