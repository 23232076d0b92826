// KVM's VM-exit handlers, a table keyed by the basic exit reason like kvm_vmx_exit_handlers[] in
// Linux v4.1 arch/x86/kvm/vmx.c. Each handler is small, counts itself (vcpu->stat names), traces
// what KVM traced, and says whether the guest resumes. Reasons without a handler go to one
// function that stops the VM as KVM/QEMU did (2015: KVM_EXIT_UNKNOWN; today: an internal error).

import { CR4_PKE } from "../pkeys.js";
import type { HandleResult } from "../../core/machine.js";
import type { KvmEra } from "../../core/trace.js";
import { CR0, CR4, EFER, MSR_EFER } from "../state.js";
import { DR6_BD, DR7_GD, drTarget, drWriteValue } from "../debug-regs.js";
import { CR_ACCESS_QUAL, EPT_VIOLATION_QUAL, INTR_INFO, INTR_TYPE, IO_QUAL, decodeQual } from "../vmx/qualification.js";
import { EXIT, exitReason } from "../vmx/reasons.js";
import { EPT_RWX } from "../vmx/ept.js";
import { ctl } from "../vmx/controls.js";
import { lookupField } from "../vmx/fields.js";
import { getMceMsr, isMceMsr, mceMsrName, setMceMsr } from "./mce.js";
import { getMtrrMsr, isMtrrMsr, mtrrMsrName, setMtrrMsr } from "./mtrr.js";
import { DebugExit } from "../../devices/debug-exit.js";
import { decodeAtRip, emulateInstruction, patchHypercall, pioAccess, trapUdDecode } from "./emulate.js";
import { xstateRequiredSize, XFEATURE } from "../fpu-state.js";
import { TOPOLOGY_LEAF, topologyLeaf, vmCpuidEntry } from "./cpuid-vm.js";
import { CPUID_1_ECX_OSXSAVE, CPUID_1_ECX_XSAVE, cpuidSourceLeaf, kvmCpuid, maxBasicLeaf, subleafDecides, syscallOutside64Allowed, vendorRegisters, type CpuidAnswerEntry } from "./cpuid.js";
import { msrInfo } from "./msrs.js";
import { kvmMsrValue } from "../canonical.js";
import {
  apicMsrRead, apicMsrWrite, handleApicAccess, handleApicWrite, handleEoiInduced, handleExternalInterrupt, handleHalt,
  handleInterruptWindow, handleTprBelowThreshold,
} from "./apic-exits.js";
import type { KvmVcpu, X86VcpuStat } from "./vcpu.js";
import { VECTOR } from "../vectors.js";
import { KVM_EXIT } from "../../core/kvm-events.js";
import { hex, join64, MASK64 } from "../../core/bits.js";
import { decodeBits32 } from "../../core/bitfields.js";
import { resumeLater } from "./lazy-result.js";

const F_IDTV = lookupField("IDT_VECTORING_INFO_FIELD").field;

/** A handler of one basic exit reason; the exit information is in the VMCS. */
export type ExitHandler = (vcpu: KvmVcpu, reason: number) => HandleResult;

const resume = (message: string): HandleResult => ({ action: "resume", message });
const halt = (message: string): HandleResult => ({ action: "halt", message });

/** The exit qualification's table entry, looked up once. */
const EXIT_QUALIFICATION = lookupField("EXIT_QUALIFICATION").field;

function qual(vcpu: KvmVcpu): bigint {
  return vcpu.ctx.vmcs.read("EXIT_QUALIFICATION");
}

/** kvm_complete_insn_gp: skip the instruction, or inject #GP(0) if the setter refused the value. */
function completeInsnGp(vcpu: KvmVcpu, err: number): void {
  if (err) vcpu.queueException(VECTOR.GP, 0);
  else vcpu.skipInstruction();
}

const handleCr: ExitHandler = (vcpu) => {
  vcpu.count("cr_exits");
  const q = decodeBits32(CR_ACCESS_QUAL, vcpu.ctx.vmcs.readNum(EXIT_QUALIFICATION)); // 32 bits: no BigInt
  const emit = vcpu.ctx.emit;
  switch (q.access_type) {
    case 0: {
      const val = vcpu.readGpr(q.gpr!);
      emit("kvm_cr", { rw: 1, cr: q.cr!, val });
      let err = 0;
      if (q.cr === 0) err = vcpu.kvmSetCr0(val);
      else if (q.cr === 3) err = vcpu.kvmSetCr3(val);
      else if (q.cr === 4) err = vcpu.kvmSetCr4(val);
      else if (q.cr === 8) {
        // kvm_set_cr8: only the 4-bit TPR exists.
        err = val >> 4n ? 1 : 0;
        if (!err) vcpu.state.cr8 = val;
      }
      else {
        // handle_cr (v4.1 and today): run->exit_reason = 0 (KVM_EXIT_UNKNOWN), vcpu_unimpl, return 0.
        emit("kvm_userspace_exit", { reason: KVM_EXIT.UNKNOWN, errno: 0 });
        return halt(`unhandled control register: op 0 cr ${q.cr}`);
      }
      completeInsnGp(vcpu, err);
      const what = q.cr === 0 ? "guest CR0 set, MMU re-initialised" : q.cr === 3 ? "page directory switched" : q.cr === 4 ? "CPU features set" : "TPR set";
      return resume(err ? `mov to cr${q.cr} of ${hex(val)} is invalid: #GP injected` : `cr${q.cr} = ${hex(val)}: ${what}`);
    }
    case 1: {
      const val = q.cr === 3 ? vcpu.arch.cr3 : vcpu.state.cr8;
      vcpu.writeGpr(q.gpr!, val);
      emit("kvm_cr", { rw: 0, cr: q.cr!, val });
      vcpu.skipInstruction();
      return resume(`mov from cr${q.cr}: ${hex(val)}`);
    }
    case 2: {
      vcpu.vmxSetCr0(vcpu.arch.cr0 & ~CR0.TS);
      emit("kvm_cr", { rw: 1, cr: 0, val: vcpu.arch.cr0 });
      vcpu.skipInstruction();
      return resume("clts");
    }
    default: {
      const val = BigInt(q.lmsw_source! & 0xf);
      const next = (vcpu.arch.cr0 & ~0xfn) | val | (vcpu.arch.cr0 & CR0.PE);
      emit("kvm_cr", { rw: 1, cr: 0, val: (vcpu.arch.cr0 & ~0xfn) | val });
      vcpu.kvmSetCr0(next);
      vcpu.skipInstruction();
      return resume(`lmsw ${hex(val)}`);
    }
  }
};

/**
 * AMD's legacy performance counters MSR_K7_EVNTSEL0-3 (0xC0010000-3) and MSR_K7_PERFCTR0-3
 * (0xC0010004-7) on an Intel host, where no vPMU claims them: kvm_get_msr_common reads 0 and
 * kvm_set_msr_common accepts any write ("disabled perfctr wrmsr", vcpu_unimpl), v4.1 and today.
 * A guest told it runs on AMD (cpuVendor) resets them at start-up (kvm-unit-tests lib/x86/pmu.c).
 */
function isK7PerfMsr(msr: number): boolean {
  return msr >= 0xc001_0000 && msr <= 0xc001_0007;
}

/** vmx_get_msr / kvm_get_msr_common: from the VMCS field or KVM's own copy. */
function getMsr(vcpu: KvmVcpu, msr: number): bigint | null {
  if (msr === MSR_EFER) return vcpu.arch.efer;
  const apic = apicMsrRead(vcpu, msr);
  if (apic === "gp") return null;
  if (apic !== null) return apic;
  // get_msr_mce: IA32_MCG_* and the banks (runtime/x86/kvm/mce.ts).
  if (isMceMsr(msr)) return getMceMsr(vcpu.mce, msr);
  // kvm_mtrr_get_msr: IA32_MTRRCAP, IA32_MTRR_DEF_TYPE, the fixed and variable ranges (runtime/x86/kvm/mtrr.ts).
  if (isMtrrMsr(msr)) return getMtrrMsr(vcpu.mtrr, msr);
  if (isK7PerfMsr(msr)) return 0n;
  const info = msrInfo(msr);
  if (!info) return null;
  if (info.home !== "arch") return vcpu.ctx.vmcs.read(info.home);
  if (msr === 0x10) return vcpu.ctx.cpu.rdtscHost();
  return vcpu.softMsrs.get(msr) ?? (msr === 0x1b ? 0xfee0_0900n : 0n);
}

function setMsr(vcpu: KvmVcpu, msr: number, data: bigint): number {
  if (msr === MSR_EFER) return vcpu.kvmSetEfer(data);
  // __kvm_set_msr: an address MSR refuses a non-canonical value, or stores it made canonical (runtime/x86/canonical.ts).
  const checked = kvmMsrValue(msr, data);
  if (checked === null) return 1;
  data = checked;
  const apic = apicMsrWrite(vcpu, msr, data);
  if (apic !== null) return apic;
  if (isMceMsr(msr)) return setMceMsr(vcpu.mce, msr, data, vcpu.ctx.settings.era);
  if (isMtrrMsr(msr)) return setMtrrMsr(vcpu.mtrr, msr, data);
  if (isK7PerfMsr(msr)) return 0;
  const info = msrInfo(msr);
  if (!info) return 1;
  if (info.home !== "arch") vcpu.ctx.vmcs.write(info.home, data);
  else vcpu.softMsrs.set(msr, data);
  // STAR/LSTAR/CSTAR/SYSCALL_MASK are user-return MSRs (vmx_set_msr → kvm_set_user_return_msr): the
  // CPU runs the guest with its values, which SYSCALL/SYSRET read (semantics/syscall.ts).
  if (msr >= 0xc000_0081 && msr <= 0xc000_0084) vcpu.ctx.cpu.msrs.set(msr, data);
  return 0;
}

const handleRdmsr: ExitHandler = (vcpu) => {
  vcpu.count("msr_exits");
  const ecx = Number(vcpu.state.gpr[1]! & 0xffff_ffffn);
  const data = getMsr(vcpu, ecx);
  if (data === null) {
    vcpu.ctx.emit("kvm_msr", { write: 0, ecx, data: 0n, exception: true });
    vcpu.queueException(VECTOR.GP, 0);
    return resume(`rdmsr ${hex(ecx)}: unknown MSR, #GP injected`);
  }
  vcpu.ctx.emit("kvm_msr", { write: 0, ecx, data, exception: false });
  vcpu.state.gpr[0] = data & 0xffff_ffffn;
  vcpu.state.gpr[2] = (data >> 32n) & 0xffff_ffffn;
  vcpu.skipInstruction();
  return resumeLater(() => `rdmsr ${msrInfo(ecx)?.name ?? mceMsrName(ecx) ?? mtrrMsrName(ecx) ?? hex(ecx)} = ${hex(data)}`);
};

const handleWrmsr: ExitHandler = (vcpu) => {
  vcpu.count("msr_exits");
  // ECX and EDX:EAX from the register halves when the state has them (X86Regs), as handleCpuid reads them.
  const halves = (vcpu.state as { r?: Int32Array }).r;
  const ecx = halves ? halves[1]! >>> 0 : Number(vcpu.state.gpr[1]! & 0xffff_ffffn);
  const data = halves ? join64(halves[0]!, halves[2]!) : (vcpu.state.gpr[0]! & 0xffff_ffffn) | ((vcpu.state.gpr[2]! & 0xffff_ffffn) << 32n);
  const err = setMsr(vcpu, ecx, data);
  vcpu.ctx.emit("kvm_msr", { write: 1, ecx, data, exception: err !== 0 });
  if (err) {
    vcpu.queueException(VECTOR.GP, 0);
    return resume(`wrmsr ${hex(ecx)} = ${hex(data)} refused: #GP injected`);
  }
  vcpu.skipInstruction();
  return resumeLater(() => {
    const lme = ecx === MSR_EFER && data & EFER.LME ? " (long mode enabled, active once paging is on)" : "";
    return `wrmsr ${msrInfo(ecx)?.name ?? mceMsrName(ecx) ?? mtrrMsrName(ecx) ?? hex(ecx)} = ${hex(data)}${lme}`;
  });
};

const handleIo: ExitHandler = (vcpu) => {
  vcpu.count("io_exits");
  const q = decodeBits32(IO_QUAL, vcpu.ctx.vmcs.readNum(EXIT_QUALIFICATION)); // 32 bits: no BigInt
  // handle_io: string I/O goes through the emulator; OUT takes the fast path (kvm_fast_pio_out).
  // v4.1 emulated IN too; today's kvm_fast_pio handles it without the emulator (kvm_fast_pio_in,
  // then complete_fast_pio_in on the next KVM_RUN): no kvm_emulate_insn.
  if (q.string || (q.direction === 1 && vcpu.ctx.settings.era === "2015")) {
    const r = emulateInstruction(vcpu);
    return r.ok ? resume(r.message) : halt(r.message);
  }
  const size = (q.size! + 1) as 1 | 2 | 4;
  if (q.direction === 1) {
    const value = BigInt(pioAccess(vcpu, q.port!, size, false, 0));
    // complete_fast_pio_in: AL/AX merge into RAX, a 32-bit IN writes EAX zero-extended.
    const mask = size === 4 ? MASK64 : BigInt((1 << (8 * size)) - 1);
    vcpu.state.gpr[0] = (vcpu.state.gpr[0]! & ~mask) | value;
    vcpu.skipInstruction();
    return resume(`in ${hex(value)} from port ${hex(q.port!)} (${vcpu.ctx.pio.find(q.port!)?.device.name ?? "no device"})`);
  }
  const value = Number(vcpu.state.gpr[0]! & BigInt(size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1));
  vcpu.skipInstruction();
  pioAccess(vcpu, q.port!, size, true, value);
  const dev = vcpu.ctx.pio.find(q.port!)?.device;
  if (dev instanceof DebugExit && dev.written) {
    return halt(`isa-debug-exit: the guest wrote ${hex(dev.written.value)} to port ${hex(q.port!)}; QEMU exits with status ${dev.written.status}`);
  }
  const act = dev?.takeAction?.();
  if (act) return act.action === "halt" ? halt(act.message) : resume(act.message);
  return resume(`out ${hex(value)} to port ${hex(q.port!)} (${dev?.name ?? "no device"})`);
};

const handleCpuid: ExitHandler = (vcpu) => {
  (vcpu.cpuidBox ??= vcpu.counted("cpuid_exits")).n++;
  const s = vcpu.state;
  // kvm_emulate_cpuid: leaf from EAX, index from ECX; the answer written to EAX, EBX, ECX, EDX
  // zero-extended (32-bit results clear bits 63:32 in 64-bit mode). On the register halves
  // when the state has them (X86Regs: r[i] low, r[16 + i] high), no BigInt per exit.
  const halves = (s as { r?: Int32Array }).r;
  const leaf = halves ? halves[0]! >>> 0 : Number(s.gpr[0]! & 0xffff_ffffn);
  const index = halves ? halves[1]! >>> 0 : Number(s.gpr[1]! & 0xffff_ffffn);
  const era = vcpu.ctx.settings.era;
  const r = cpuidAnswer(leaf, index, era);
  let entry = r.entry;
  let found = r.found, usedMaxBasic = r.usedMaxBasic;
  // kvm_update_cpuid_runtime: CPUID.1:EDX.APIC follows IA32_APIC_BASE.EN.
  if (leaf === 1 && !vcpu.irq.lapic.hwEnabled) entry = { ...entry, edx: entry.edx & ~0x200 };
  // kvm_update_cpuid_runtime: CPUID.1:ECX.OSXSAVE follows CR4.OSXSAVE (when XSAVE is offered), and
  // CPUID.(0xD,0):EBX is the XSAVE area size of the vCPU's XCR0 (xstate_required_size).
  // The entry KVM updates is the one answered, also when the highest basic leaf stands in.
  const answered = r.found ? leaf : r.usedMaxBasic ? maxBasicLeaf(vcpu.ctx.settings.era) : -1;
  if (answered === 1 && entry.ecx & CPUID_1_ECX_XSAVE && vcpu.arch.cr4 & CR4.OSXSAVE) entry = { ...entry, ecx: (entry.ecx | CPUID_1_ECX_OSXSAVE) >>> 0 };
  if (answered === 0xd && index === 0) entry = { ...entry, ebx: xstateRequiredSize(vcpu.ctx.cpu.xcr0) };
  // The VMM gives each vCPU its own table (KVM_SET_CPUID2 per vCPU; QEMU cpu_x86_cpuid): the
  // initial APIC ID in CPUID.1:EBX[31:24] and the x2APIC ID in CPUID.0xB:EDX (SDM Vol. 2 CPUID).
  const apicId = vcpu.irq.lapic.id;
  if (apicId !== 0 && leaf === 1) entry = { ...entry, ebx: ((entry.ebx & 0x00ff_ffff) | (apicId << 24)) >>> 0 };
  const vm = vcpu.ctx.cpuid;
  if (vm) {
    // The VM's topology (leaf 0xB, also when it stands in as the highest basic leaf; leaf 1's count and HTT) and its -cpu model (cpu-model.ts: KVM_SET_CPUID2 without the features the model lacks).
    const source = r.source;
    if (source === TOPOLOGY_LEAF || (source === 1 && vm.vcpus > 1) || vm.cleared.length !== 0) entry = vmCpuidEntry(vm, era, source, index, apicId, entry);
    if (source === TOPOLOGY_LEAF) {
      const t = topologyLeaf(vm.vcpus, apicId, index, era).found;
      (found = t && source === leaf), (usedMaxBasic = t && source !== leaf);
    }
  }
  // kvm_update_cpuid_runtime: CPUID.7.0:ECX.OSPKE (bit 4) follows CR4.PKE.
  if (leaf === 7 && index === 0 && vcpu.state.cr4 & CR4_PKE) entry = { ...entry, ecx: (entry.ecx | 0x10) >>> 0 };
  // The VMM's vendor string (KVM_SET_CPUID2 from QEMU's -cpu ...,vendor=) in leaf 0.
  if (leaf === 0 && vcpu.ctx.cpuVendor !== undefined) entry = { ...entry, ...vendorRegisters(vcpu.ctx.cpuVendor) };
  if (halves) {
    halves[0] = entry.eax; halves[16] = 0;
    halves[3] = entry.ebx; halves[19] = 0;
    halves[1] = entry.ecx; halves[17] = 0;
    halves[2] = entry.edx; halves[18] = 0;
  } else {
    s.gpr[0] = BigInt(entry.eax);
    s.gpr[3] = BigInt(entry.ebx);
    s.gpr[1] = BigInt(entry.ecx);
    s.gpr[2] = BigInt(entry.edx);
  }
  const f = CPUID_FIELDS;
  (f.function = leaf), (f.index = index), (f.rax = entry.eax), (f.rbx = entry.ebx), (f.rcx = entry.ecx), (f.rdx = entry.edx), (f.found = found), (f.used_max_basic = usedMaxBasic);
  vcpu.traceCpuid(f);
  vcpu.skipInstruction();
  return r.result;
};

/** kvm_cpuid's fields, one record reused by every CPUID exit (the trace copies them into its columns). */
const CPUID_FIELDS = { function: 0, index: 0, rax: 0, rbx: 0, rcx: 0, rdx: 0, found: false, used_max_basic: false };

/** The registers and the result of a CPUID leaf and subleaf, made once per pair (the answers never change). */
type CpuidAnswer = CpuidAnswerEntry & { result: HandleResult; /** The leaf KVM looks it up in (cpuidSourceLeaf). */ source: number };
/**
 * Answers by leaf: the answer itself when the subleaf does not decide it (whatever the guest left
 * in ECX), else the answers of that leaf by subleaf. One lookup on the hot path.
 */
type CpuidCacheEntry = { indexed: false; answer: CpuidAnswer } | { indexed: true; bySubleaf: Map<number, CpuidAnswer> };
const CPUID_ANSWERS: Record<KvmEra, Map<number, CpuidCacheEntry>> = { "2015": new Map(), today: new Map() };
const CACHE_MAX = 4096;
/** The last answer given (a guest polling one leaf asks it again and again): checked before the maps. */
let last: { leaf: number; index: number; era: KvmEra; indexed: boolean; answer: CpuidAnswer } | null = null;
function cpuidAnswer(leaf: number, index: number, era: KvmEra): CpuidAnswer {
  const l = last;
  if (l !== null && l.leaf === leaf && l.era === era && (!l.indexed || l.index === index)) return l.answer;
  const answer = cachedAnswer(leaf, index, era);
  last = { leaf, index, era, indexed: subleafDecides(leaf, era), answer };
  return answer;
}
function cachedAnswer(leaf: number, index: number, era: KvmEra): CpuidAnswer {
  const cache = CPUID_ANSWERS[era];
  let c = cache.get(leaf);
  if (c !== undefined && !c.indexed) return c.answer;
  if (c === undefined) {
    const indexed = subleafDecides(leaf, era);
    c = indexed ? { indexed, bySubleaf: new Map() } : { indexed, answer: makeAnswer(leaf, 0, era) };
    if (cache.size < CACHE_MAX) cache.set(leaf, c);
    if (!c.indexed) return c.answer;
  }
  let r = c.bySubleaf.get(index);
  if (!r) {
    r = makeAnswer(leaf, index, era);
    if (c.bySubleaf.size < CACHE_MAX) c.bySubleaf.set(index, r);
  }
  return r;
}
function makeAnswer(leaf: number, index: number, era: KvmEra): CpuidAnswer {
  const a = kvmCpuid(leaf, era, index);
  const how = a.found ? "" : a.usedMaxBasic ? " (above the highest basic leaf: its values)" : " (not in the table: zeros)";
  return { ...a, result: resume(`cpuid leaf ${hex(leaf)}${how}`), source: cpuidSourceLeaf(leaf, era) };
}

const handleEptViolation: ExitHandler = (vcpu) => {
  const q = qual(vcpu);
  const d = decodeQual(EPT_VIOLATION_QUAL, q);
  const gpa = Number(vcpu.ctx.vmcs.read("GUEST_PHYSICAL_ADDRESS"));
  vcpu.ctx.emit("kvm_page_fault", { fault_address: gpa, error_code: q, vcpu_id: vcpu.ctx.vcpuId ?? 0, guest_rip: vcpu.state.rip });
  // handle_ept_violation (vmx.c, v4.1 and today): an IRET that unblocked NMIs before the violation
  // runs again with them blocked (GUEST_INTR_STATE_NMI), unless an event was being delivered.
  if (d.nmi_unblocking && !(Number(vcpu.ctx.vmcs.read("IDT_VECTORING_INFO_FIELD")) >>> 31)) vcpu.state.nmiBlocked = true;
  if (vcpu.ctx.memory.isRam(gpa)) {
    // tdp_page_fault → __direct_map: map the 4 KiB page read/write/execute.
    const page = gpa - (gpa % 4096);
    vcpu.ctx.ept.map4k(page, page, EPT_RWX);
    vcpu.count("pf_fixed");
    const kind = d.fetch ? "instruction fetch" : d.write ? "write" : "read";
    const where = d.final_translation ? "" : " of a guest page-table entry";
    return resume(`mapped guest page ${hex(page)} in EPT (${kind}${where})`);
  }
  // No memslot: mark an MMIO spte (a misconfigured EPT entry), then emulate the access.
  vcpu.ctx.ept.markMmio(gpa);
  // Today's vmx_check_emulate_instruction: MMIO emulation during event vectoring is impossible
  // (X86EMUL_UNHANDLEABLE_VECTORING → kvm_prepare_event_vectoring_exit, Linux 6.14). v4.1 emulates the
  // instruction at RIP and stops at the next exit (the MMIO spte's misconfiguration, in handleExit).
  const idtv = Number(vcpu.ctx.vmcs.read("IDT_VECTORING_INFO_FIELD"));
  if (idtv >>> 31 && vcpu.ctx.settings.era !== "2015") return deliveryError(vcpu, EXIT.EPT_VIOLATION, idtv);
  const r = emulateInstruction(vcpu);
  return r.ok ? resume(`MMIO at ${hex(gpa)}: ${r.message}`) : halt(r.message);
};

const handleEptMisconfig: ExitHandler = (vcpu) => {
  const gpa = Number(vcpu.ctx.vmcs.read("GUEST_PHYSICAL_ADDRESS"));
  const r = emulateInstruction(vcpu);
  return r.ok ? resume(`MMIO at ${hex(gpa)}: ${r.message}`) : halt(r.message);
};

const handleException: ExitHandler = (vcpu) => {
  vcpu.count("exception_exits");
  const v = vcpu.ctx.vmcs;
  const info = decodeQual(INTR_INFO, v.read("VM_EXIT_INTR_INFO"));
  const vector = info.vector!;
  const code = info.error_code_valid ? Number(v.read("VM_EXIT_INTR_ERROR_CODE")) : undefined;
  // #UD (is_invalid_opcode: a hardware exception, vector 6): KVM tries its emulator first
  // (EMULTYPE_TRAP_UD; v4.1 handle_exception, today handle_ud), which decodes and traces
  // kvm_emulate_insn; instructions it does not emulate on #UD get #UD back.
  if (vector === VECTOR.UD && info.type === INTR_TYPE.HW_EXCEPTION) {
    // EmulateOnUD instructions KVM's emulator runs: SYSCALL outside 64-bit mode for an AMD guest (em_syscall).
    const insn = decodeAtRip(vcpu);
    if (insn?.spec.sem === "syscall" && syscallOutside64Allowed(vcpu.ctx.cpuVendor, vcpu.ctx.settings.era)) {
      const r = emulateInstruction(vcpu, { syscallOutside64: true });
      return r.ok ? resume(`#UD intercepted: ${r.message} (em_syscall: the guest's CPUID vendor is AMD)`) : halt(r.message);
    }
    if (insn?.spec.mnemonic === "vmmcall") return resume(`#UD intercepted: ${patchHypercall(vcpu, insn)}`);
    trapUdDecode(vcpu);
    vcpu.queueException(VECTOR.UD);
    return resume("#UD intercepted: KVM's emulator decoded the instruction (EMULTYPE_TRAP_UD), does not emulate it, and re-injects #UD");
  }
  // A software exception (INT3/INTO) is re-injected past the instruction (event_exit_inst_len).
  // ICEBP (a privileged software exception) is skipped the same way, by vmx's skip_emulated_instruction,
  // which does not single-step (today's handle_exception: is_icebp).
  if (info.type === INTR_TYPE.SW_EXCEPTION || info.type === INTR_TYPE.PRIV_SW_EXCEPTION) vcpu.skipInstruction(false);
  // #DB: the exit qualification holds the DR6 bits (SDM Vol. 3 Table 27-1); KVM hands them back as
  // the exception's payload for DR6 (v4.1 sets vcpu->arch.dr6 from it, today kvm_queue_exception_p).
  vcpu.queueException(vector, code, vector === VECTOR.PF || vector === VECTOR.DB ? qual(vcpu) : undefined);
  return resume(`exception ${vector} reflected into the guest`);
};

const handleTripleFault: ExitHandler = (vcpu) => {
  vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.SHUTDOWN, errno: 0 });
  return halt("triple fault: KVM_EXIT_SHUTDOWN (the VMM would reset the guest)");
};

const skipping = (stat: X86VcpuStat, what: string): ExitHandler => (vcpu) => {
  vcpu.count(stat);
  vcpu.skipInstruction();
  return resume(what);
};

/** KVM_HC_SEND_IPI (Linux include/uapi/linux/kvm_para.h). */
const KVM_HC_SEND_IPI = 10n;

const handleVmcall: ExitHandler = (vcpu) => {
  vcpu.count("hypercalls");
  const s = vcpu.state;
  const nr = s.gpr[0]!;
  vcpu.ctx.emit("kvm_hypercall", { nr, a0: s.gpr[3]!, a1: s.gpr[1]!, a2: s.gpr[2]!, a3: s.gpr[6]! });
  vcpu.skipInstruction();
  // KVM_HC_SEND_IPI (include/uapi/linux/kvm_para.h: 10), since Linux 4.19: not in 2015's v4.1.
  if (nr === KVM_HC_SEND_IPI && vcpu.ctx.settings.era !== "2015") {
    const n = vcpu.irq.pvSendIpi(s.gpr[3]!, s.gpr[1]!, Number(s.gpr[2]! & 0xffff_ffffn), s.gpr[6]!);
    s.gpr[0] = BigInt(n) & ((1n << 64n) - 1n);
    return resume(n < 0 ? "KVM_HC_SEND_IPI: an ICR with a destination mode or shorthand is -KVM_EINVAL" : `KVM_HC_SEND_IPI: ${n} IPI(s) delivered`);
  }
  s.gpr[0] = (-1000n) & ((1n << 64n) - 1n); // -KVM_ENOSYS: no hypercall of this number
  return resume(`hypercall ${hex(nr)}: -KVM_ENOSYS`);
};

const handleVmxInsn: ExitHandler = (vcpu) => {
  vcpu.queueException(VECTOR.UD);
  return resume("VMX instruction with nested virtualization off: #UD injected");
};

const handleInvlpg: ExitHandler = (vcpu) => {
  vcpu.ctx.cpu.flushTlb();
  vcpu.skipInstruction();
  return resume(`invlpg ${hex(qual(vcpu))}`);
};

/**
 * handle_dr (vmx.c, v4.1 and today): kvm_require_dr (#UD for DR4/DR5 with CR4.DE), kvm_require_cpl
 * (#GP at CPL > 0), DR7.GD (#DB with DR6.BD), then kvm_get_dr / kvm_set_dr (DR4/DR5 as DR6/DR7; a
 * DR6/DR7 value with bits 63:32 set is #GP) and the skip.
 */
const handleDr: ExitHandler = (vcpu) => {
  const q = Number(qual(vcpu));
  const cpu = vcpu.ctx.cpu;
  const target = drTarget(q & 7, (vcpu.state.cr4 & CR4.DE) !== 0n);
  if (target === "ud") {
    vcpu.queueException(VECTOR.UD);
    return resume(`mov dr${q & 7} with CR4.DE: #UD injected`);
  }
  const cpl = Number(vcpu.ctx.vmcs.read("GUEST_SS_AR_BYTES") >> 5n) & 3; // vmx_get_cpl: SS.DPL
  if (cpl !== 0) {
    vcpu.queueException(VECTOR.GP, 0);
    return resume(`mov dr${q & 7} at CPL ${cpl}: #GP injected`);
  }
  if (cpu.debugRegister(7) & DR7_GD) {
    cpu.setDebugRegister(7, cpu.debugRegister(7) & ~DR7_GD);
    vcpu.queueException(VECTOR.DB, undefined, DR6_BD);
    return resume("mov dr with DR7.GD: #DB (DR6.BD) injected");
  }
  const reg = (q >> 8) & 15;
  if (q & 16) vcpu.writeGpr(reg, cpu.debugRegister(target));
  else {
    const v = drWriteValue(target, vcpu.readGpr(reg));
    if (v === "gp") {
      vcpu.queueException(VECTOR.GP, 0);
      return resume(`mov to dr${q & 7}: reserved bits set, #GP injected`);
    }
    cpu.setDebugRegister(target, v);
  }
  vcpu.skipInstruction();
  return resume(`mov ${q & 16 ? "from" : "to"} dr${q & 7} emulated`);
};

/** handle_rdpmc: KVM's vPMU; this model has no counters, so any index is invalid (#GP). */
const handleRdpmc: ExitHandler = (vcpu) => {
  vcpu.queueException(VECTOR.GP, 0);
  return resume(`rdpmc of counter ${hex(vcpu.state.gpr[1]! & 0xffff_ffffn)}: no vPMU counters, #GP injected`);
};

/**
 * handle_xsetbv → kvm_set_xcr (x86.c, v4.1 and today): #GP(0) unless CPL 0 and __kvm_set_xcr accepts:
 * only XCR0 (index ECX, 32 bits: 0), bit 0 (x87) set, YMM only with SSE, and nothing outside
 * guest_supported_xcr0 | XFEATURE_MASK_FP — guest_supported_xcr0 is EDX:EAX of the guest's CPUID
 * leaf 0xD subleaf 0 (kvm_vcpu_after_set_cpuid / cpuid_get_supported_xcr0). Then skip the instruction.
 */
const handleXsetbv: ExitHandler = (vcpu) => {
  const s = vcpu.state;
  const index = Number(s.gpr[1]! & 0xffff_ffffn);
  const value = (s.gpr[0]! & 0xffff_ffffn) | ((s.gpr[2]! & 0xffff_ffffn) << 32n);
  const cpl = Number(vcpu.ctx.vmcs.read("GUEST_SS_AR_BYTES") >> 5n) & 3; // vmx_get_cpl: SS.DPL
  const leafD = kvmCpuid(0xd, vcpu.ctx.settings.era, 0);
  const guestSupportedXcr0 = leafD.found ? BigInt(leafD.entry.eax >>> 0) | (BigInt(leafD.entry.edx >>> 0) << 32n) : 0n;
  const bad = cpl !== 0 || index !== 0 || !(value & XFEATURE.FP) || (value & XFEATURE.YMM && !(value & XFEATURE.SSE)) || (value & ~(guestSupportedXcr0 | XFEATURE.FP)) !== 0n;
  if (bad) {
    vcpu.queueException(VECTOR.GP, 0);
    return resume(`xsetbv XCR${index} = ${hex(value)} refused: #GP injected`);
  }
  vcpu.ctx.cpu.xcr0 = value;
  vcpu.skipInstruction();
  return resume(`XCR0 = ${hex(value)}`);
};

/** handle_desc (today's vmx/vmx.c, for UMIP emulation): KVM emulates the descriptor-table instruction. */
const handleDesc: ExitHandler = (vcpu, code) => {
  if (vcpu.ctx.settings.era === "2015") return unknownExit(vcpu, code); // v4.1 has no handler for reasons 46/47
  const r = emulateInstruction(vcpu);
  return r.ok ? resume(r.message) : halt(r.message);
};

/** handle_interrupt_window / handle_nmi_window: the window is open; stop asking for it. */
const windowOpen = (control: string): ExitHandler => (vcpu) => {
  vcpu.ctx.vmcs.setBits("CPU_BASED_VM_EXEC_CONTROL", ctl(control), false);
  vcpu.count("irq_window_exits");
  return resume(`${control} cleared: nothing to inject`);
};

/** kvm_vmx_exit_handlers[] (v4.1), by basic exit reason. */
export const KVM_VMX_EXIT_HANDLERS: Readonly<Record<number, ExitHandler>> = {
  [EXIT.EXCEPTION_NMI]: handleException,
  [EXIT.EXTERNAL_INTERRUPT]: handleExternalInterrupt,
  [EXIT.TRIPLE_FAULT]: handleTripleFault,
  [EXIT.IO_INSTRUCTION]: handleIo,
  [EXIT.CR_ACCESS]: handleCr,
  [EXIT.DR_ACCESS]: handleDr,
  [EXIT.CPUID]: handleCpuid,
  [EXIT.MSR_READ]: handleRdmsr,
  [EXIT.MSR_WRITE]: handleWrmsr,
  [EXIT.HLT]: handleHalt,
  [EXIT.INVD]: skipping("invd_exits", "invd emulated as a no-op"),
  [EXIT.INVLPG]: handleInvlpg,
  [EXIT.RDPMC]: handleRdpmc,
  [EXIT.XSETBV]: handleXsetbv,
  [EXIT.GDTR_IDTR]: handleDesc,
  [EXIT.LDTR_TR]: handleDesc,
  [EXIT.PENDING_INTERRUPT]: handleInterruptWindow,
  [EXIT.TPR_BELOW_THRESHOLD]: handleTprBelowThreshold,
  [EXIT.APIC_ACCESS]: handleApicAccess,
  [EXIT.APIC_WRITE]: handleApicWrite,
  [EXIT.EOI_INDUCED]: handleEoiInduced,
  [EXIT.NMI_WINDOW]: windowOpen("CPU_BASED_VIRTUAL_NMI_PENDING"),
  [EXIT.VMCALL]: handleVmcall,
  [EXIT.VMCLEAR]: handleVmxInsn,
  [EXIT.VMLAUNCH]: handleVmxInsn,
  [EXIT.VMPTRLD]: handleVmxInsn,
  [EXIT.VMPTRST]: handleVmxInsn,
  [EXIT.VMREAD]: handleVmxInsn,
  [EXIT.VMRESUME]: handleVmxInsn,
  [EXIT.VMWRITE]: handleVmxInsn,
  [EXIT.VMOFF]: handleVmxInsn,
  [EXIT.VMON]: handleVmxInsn,
  [EXIT.WBINVD]: skipping("wbinvd_exits", "wbinvd: caches flushed on the host"),
  [EXIT.EPT_VIOLATION]: handleEptViolation,
  [EXIT.EPT_MISCONFIG]: handleEptMisconfig,
  [EXIT.PAUSE_INSTRUCTION]: skipping("pause_exits", "pause: the vCPU yields"),
  [EXIT.MWAIT_INSTRUCTION]: skipping("mwait_exits", "kvm: MWAIT instruction emulated as NOP!"),
  [EXIT.MONITOR_INSTRUCTION]: skipping("monitor_exits", "kvm: MONITOR instruction emulated as NOP!"),
};

/** vmx_handle_exit's fallback for a reason with no handler. */
export function unknownExit(vcpu: KvmVcpu, code: number): HandleResult {
  const exit = { code };
  const name = (() => {
    try {
      return exitReason(exit.code).name;
    } catch {
      return String(exit.code);
    }
  })();
  if (vcpu.ctx.settings.era === "2015") {
    vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.UNKNOWN, errno: 0 });
    return halt(`KVM: unknown exit, hardware reason ${exit.code.toString(16)} (${name}): KVM_EXIT_UNKNOWN, the VMM stops the VM`);
  }
  vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.INTERNAL_ERROR, errno: 0 });
  return halt(`vmx: unexpected exit reason 0x${exit.code.toString(16)} (${name}): KVM_EXIT_INTERNAL_ERROR`);
}

/**
 * Exits that may interrupt event delivery and still be handled (vmx_handle_exit's check, v4.1:
 * EXCEPTION_NMI, EPT_VIOLATION, PML_FULL, TASK_SWITCH; today's __vmx_handle_exit adds APIC_ACCESS
 * and NOTIFY). Any other exit with valid IDT-vectoring information — an EPT misconfiguration (MMIO)
 * while pushing an exception frame — cannot be fixed by re-entering: KVM stops the VM.
 */
const DELIVERY_HANDLEABLE: Readonly<Record<KvmEra, ReadonlySet<number>>> = {
  "2015": new Set([EXIT.EXCEPTION_NMI, EXIT.EPT_VIOLATION, EXIT.PML_FULL, EXIT.TASK_SWITCH]),
  today: new Set([EXIT.EXCEPTION_NMI, EXIT.EPT_VIOLATION, EXIT.PML_FULL, EXIT.APIC_ACCESS, EXIT.TASK_SWITCH, EXIT.NOTIFY]),
};

/**
 * KVM_EXIT_INTERNAL_ERROR with suberror KVM_INTERNAL_ERROR_DELIVERY_EV (3): vmx_handle_exit (v4.1)
 * and today's kvm_prepare_event_vectoring_exit; data[0] the vectoring information, data[1] the exit reason.
 */
function deliveryError(vcpu: KvmVcpu, code: number, idtv: number): HandleResult {
  vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT.INTERNAL_ERROR, errno: 0 });
  const name = exitReason(code).name;
  return halt(`KVM internal error. Suberror: 3 (event delivery): exit ${name} (${code}) while delivering vectoring info ${hex(idtv)}; KVM_EXIT_INTERNAL_ERROR, the VMM stops the VM`);
}

/** vmx_handle_exit: the handler of basic exit reason `code`. */
export function handleExit(vcpu: KvmVcpu, code: number): HandleResult {
  (vcpu.exitsBox ??= vcpu.counted("exits")).n++;
  vcpu.decache();
  const idtv = vcpu.ctx.vmcs.readNum(F_IDTV);
  if (idtv >>> 31 && !DELIVERY_HANDLEABLE[vcpu.ctx.settings.era].has(code)) return deliveryError(vcpu, code, idtv);
  const h = KVM_VMX_EXIT_HANDLERS[code];
  return h ? h(vcpu, code) : unknownExit(vcpu, code);
}
