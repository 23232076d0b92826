// KVM/arm64's exit handlers, a table keyed by the ESR_EL2 exception class like arm_exit_handlers[]
// in Linux v4.1 arch/arm64/kvm/handle_exit.c (kvm_handle_wfx, handle_hvc, handle_smc,
// kvm_handle_sys_reg, kvm_handle_guest_abort). Classes without a handler: 2015 KVM hit BUG();
// today it injects an undefined-instruction exception (kvm_handle_unknown_ec).

import type { HandleResult } from "../../core/machine.js";
import { decodeBits32, bitField } from "../../core/bitfields.js";
import { CALL_ISS, EC, exceptionClass } from "../esr.js";
import { sysregByEncoding, genericSysregName } from "../sysregs.js";
import { isSetWayOp, isTlbiOp } from "../el2.js";
import { handleGuestAbort } from "./abort.js";
import { PSCI_RET, psciFunctionById, psciVersion } from "./psci.js";
import type { KvmEra } from "../../core/trace.js";
import { KVM_EXIT } from "../../core/kvm-events.js";
import { VCPU_BLOCKED, type KvmVcpu } from "./vcpu.js";

/** A handler of one exception class; the syndrome is vcpu.exitEsr (ESR_EL2 as a number). */
export type ExitHandler = (vcpu: KvmVcpu, ec: number) => HandleResult;

const KVM_EXIT_SYSTEM_EVENT = KVM_EXIT.SYSTEM_EVENT!;
import { hex } from "../../core/bits.js";
const resume = (message: string): HandleResult => ({ action: "resume", message });
const halt = (message: string): HandleResult => ({ action: "halt", message });

/** The ISS fields of the exit's syndrome by its class's layout (decoded from the number the exit recorded). */
function iss(vcpu: KvmVcpu): Record<string, number> {
  const layout = exceptionClass(vcpu.exitEsr >>> 26).iss;
  return layout ? decodeBits32(layout, vcpu.exitEsr & 0x1ff_ffff) : {};
}

const imm16 = bitField(CALL_ISS, "imm16");
/** PSCI_VERSION's result per era, made once (the hypercall loop's fast path). */
const PSCI_VERSION_RESULT: Record<KvmEra, HandleResult> = {
  "2015": Object.freeze(resume(`PSCI_VERSION: ${hex(psciVersion("2015"))}`)),
  today: Object.freeze(resume(`PSCI_VERSION: ${hex(psciVersion("today"))}`)),
};

/** kvm_handle_wfx: WFE yields (kvm_vcpu_on_spin), WFI blocks the vcpu until an interrupt. */
const handleWfx: ExitHandler = (vcpu) => {
  const isWfe = iss(vcpu).ti === 1;
  vcpu.ctx.emit("kvm_wfx_arm64", { vcpu_pc: vcpu.state.pc, is_wfe: isWfe });
  if (isWfe) {
    vcpu.count("wfe_exit_stat");
    vcpu.skipInstruction();
    return resume("WFE: the vcpu yielded the host CPU (kvm_vcpu_on_spin) and continues");
  }
  vcpu.count("wfi_exit_stat");
  vcpu.skipInstruction();
  // kvm_vcpu_block: return at once when an interrupt is pending for the vcpu, else sleep until
  // the next timer (the host's hrtimer for the guest's timers) wakes it.
  const ns = vcpu.ctx.block?.() ?? -1;
  if (ns === VCPU_BLOCKED) return resume("WFI: the vcpu blocks until an interrupt wakes it (kvm_vcpu_block); the other vCPUs run meanwhile");
  if (ns < 0) return halt("WFI: the vcpu blocks until an interrupt (kvm_vcpu_block), and no timer is armed and no interrupt pending to wake it");
  return resume(ns === 0 ? "WFI: an interrupt is already pending, the vcpu does not block" : `WFI: the vcpu blocked for ${ns} ns until its timer fired`);
};

const PSCI_VERSION_2015 = Number(psciVersion("2015")), PSCI_VERSION_TODAY = Number(psciVersion("today"));

/** kvm_hvc_arm64's fields, one record reused by every HVC exit (the trace copies them into its columns). */
const HVC_FIELDS: { vcpu_pc: number | bigint; r0: number | bigint; imm: number } = { vcpu_pc: 0, r0: 0, imm: 0 };

/** handle_hvc → kvm_psci_call. The guest pc is already past the HVC (ELR_EL2). */
const handleHvc: ExitHandler = (vcpu) => {
  const s = vcpu.state;
  // KVM takes the PSCI function ID from W0 (smccc_get_function: the low 32 bits of x0).
  const fn = s.r[0]! >>> 0;
  vcpu.stats.hvc_exit_stat++;
  const t = HVC_FIELDS;
  (t.vcpu_pc = s.pcValue()), (t.r0 = s.xValue(0)), (t.imm = imm16(vcpu.exitEsr));
  vcpu.traceHvc(t);
  return psciCall(vcpu, fn);
};

/** kvm_psci_call (today: kvm_smccc_call_handler): the PSCI function in W0, its result in X0. */
function psciCall(vcpu: KvmVcpu, fn: number): HandleResult {
  const s = vcpu.state;
  const f = psciFunctionById(fn);
  const era = vcpu.ctx.settings.era;
  switch (f?.name) {
    case "PSCI_VERSION":
      s.setXSmall(0, era === "2015" ? PSCI_VERSION_2015 : PSCI_VERSION_TODAY);
      return PSCI_VERSION_RESULT[era];
    case "MIGRATE_INFO_TYPE":
      s.x[0] = 2n;
      return resume("PSCI MIGRATE_INFO_TYPE: 2 (no Trusted OS to migrate)");
    case "SYSTEM_OFF":
    case "SYSTEM_RESET":
      vcpu.ctx.emit("kvm_userspace_exit", { reason: KVM_EXIT_SYSTEM_EVENT, errno: 0 });
      return halt(`PSCI ${f.name}: KVM_EXIT_SYSTEM_EVENT, the VMM ${f.name === "SYSTEM_OFF" ? "powers the VM off" : "would reset the VM (this model stops it)"}`);
    case "CPU_OFF": {
      // kvm_psci_vcpu_off: the vCPU stops (KVM_MP_STATE_STOPPED) until a CPU_ON.
      const last = vcpu.ctx.psci?.cpuOff() ?? true;
      return last ? halt("PSCI CPU_OFF: the only vcpu powered itself off") : resume("PSCI CPU_OFF: the vcpu powers itself off until a CPU_ON");
    }
    case "CPU_ON": {
      if (!vcpu.ctx.psci) break;
      const r = vcpu.ctx.psci.cpuOn(s.x[1]!, s.x[2]!, s.x[3]!);
      s.x[0] = r.ret;
      return resume(`PSCI CPU_ON: ${r.text}`);
    }
    case "AFFINITY_INFO": {
      if (!vcpu.ctx.psci) {
        s.x[0] = s.x[1] === 0n ? 0n : PSCI_RET.INVALID_PARAMS;
        return resume("PSCI AFFINITY_INFO");
      }
      const r = vcpu.ctx.psci.affinityInfo(s.x[1]!, s.x[2]!);
      s.x[0] = r.ret;
      return resume(`PSCI AFFINITY_INFO: ${r.text}`);
    }
  }
  s.x[0] = PSCI_RET.NOT_SUPPORTED;
  return resume(`${vcpu.exitEsr >>> 26 === EC.SMC64 ? "SMC" : "HVC"} with x0 = ${hex(s.x[0]!)}: not a PSCI function KVM implements, x0 = PSCI_RET_NOT_SUPPORTED`);
}

/**
 * handle_smc. 2015 (Linux v4.1 handle_exit.c): KVM does not forward SMCs, it injects an
 * undefined-instruction exception. Today (Linux 6.4+ handle_exit.c, "KVM: arm64: Let EL1 SMCs
 * ..."): kvm_incr_pc past the SMC (a trapped SMC is a Trap exception whose return address is the
 * SMC itself, Arm ARM D1.10.2); a nonzero immediate is reserved (SMCCC, DEN0028E 2.9) and gets
 * x0 = ~0 (SMCCC_RET_NOT_SUPPORTED); imm 0 is an SMCCC call, PSCI as over HVC
 * (kvm_smccc_call_handler, without handle_hvc's trace_kvm_hvc_arm64 and hvc_exit_stat).
 */
const handleSmc: ExitHandler = (vcpu) => {
  if (vcpu.ctx.settings.era === "2015") {
    vcpu.injectUndefined();
    return resume("SMC trapped by HCR_EL2.TSC: KVM injects an undefined-instruction exception");
  }
  vcpu.skipInstruction();
  const imm = imm16(vcpu.exitEsr);
  if (imm !== 0) {
    vcpu.state.x[0] = PSCI_RET.NOT_SUPPORTED;
    return resume(`SMC #${hex(imm)} trapped by HCR_EL2.TSC: a nonzero immediate is reserved, KVM skips it with x0 = SMCCC_RET_NOT_SUPPORTED (-1)`);
  }
  return psciCall(vcpu, vcpu.state.r[0]! >>> 0);
};

type SysregEncoding = { op0: number; op1: number; crn: number; crm: number; op2: number };

/**
 * The name of KVM's sys_reg_desc for an access it emulates (today's arch/arm64/kvm/sys_regs.c):
 * SYS_DESC(SYS_<reg>) names a register "SYS_<reg>" (ID_SANITISED, access_vm_reg, access_dcsw
 * entries alike); ID_UNALLOCATED(crm, op2) names a reserved ID register "S3_0_0_<crm>_<op2>".
 */
function kvmSysregDescName(enc: SysregEncoding, regName: string | undefined): string {
  if (isSetWayOp(enc)) return `SYS_DC_${({ 6: "ISW", 10: "CSW", 14: "CISW" } as Record<number, string>)[enc.crm]}`;
  if (regName) return `SYS_${regName}`;
  return `S3_0_0_${enc.crm}_${enc.op2}`;
}

/** Today's perform_access: trace_kvm_sys_access(*vcpu_pc, params, desc) before the access runs (v4.1 had no such tracepoint). */
function traceSysAccess(vcpu: KvmVcpu, enc: SysregEncoding, regName: string | undefined, isWrite: boolean): void {
  if (vcpu.ctx.settings.era !== "today") return;
  vcpu.ctx.emit("kvm_sys_access", { vcpu_pc: vcpu.state.pc, name: kvmSysregDescName(enc, regName), ...enc, is_write: isWrite });
}

/** kvm_handle_sys_reg → emulate_sys_reg over KVM's sys_reg_descs (access_vm_reg, access_dcsw, ID registers, ACTLR). */
const handleSysReg: ExitHandler = (vcpu) => {
  vcpu.count("sys_reg_exits");
  // Today's kvm_handle_sys_reg starts with trace_kvm_handle_sys_reg(esr).
  if (vcpu.ctx.settings.era === "today") vcpu.ctx.emit("kvm_handle_sys_reg", { hsr: vcpu.exitEsr >>> 0 });
  const f = iss(vcpu);
  const enc = { op0: f.op0!, op1: f.op1!, crn: f.crn!, crm: f.crm!, op2: f.op2! };
  const isRead = f.direction === 1;
  const rt = f.rt!;
  const s = vcpu.state;
  if (enc.op0 === 1) {
    if (isSetWayOp(enc)) {
      traceSysAccess(vcpu, enc, undefined, true);
      vcpu.setWayFlush();
      vcpu.skipInstruction();
      return resume("DC set/way trapped by HCR_EL2.TSW: KVM flushes the whole VM instead (kvm_set_way_flush) and traps VM-register writes");
    }
    if (isTlbiOp(enc)) {
      vcpu.cpu.mmu.flush();
      vcpu.skipInstruction();
      return resume("TLB maintenance trapped by HCR_EL2.TTLB: performed by KVM");
    }
  }
  const reg = sysregByEncoding(enc);
  const name = reg?.name ?? genericSysregName(enc);
  if (reg?.trap === "tvm") {
    traceSysAccess(vcpu, enc, reg.name, !isRead);
    if (isRead) {
      s.writeX(rt, vcpu.cpu.reg(reg.name));
      vcpu.skipInstruction();
      return resume(`read of ${name} trapped by HCR_EL2.TRVM: ${hex(vcpu.cpu.reg(reg.name))}`);
    }
    // access_vm_reg: store the value, then kvm_toggle_cache.
    const was = vcpu.cacheEnabled();
    const value = s.readX(rt);
    vcpu.cpu.setReg(reg.name, value);
    vcpu.toggleCache(was);
    vcpu.skipInstruction();
    const now = vcpu.cacheEnabled();
    return resume(`${name} = ${hex(value)} (VM register write trapped by HCR_EL2.TVM); caches ${was ? "on" : "off"} → ${now ? "on" : "off"}${now ? ", TVM cleared" : ""}`);
  }
  if (reg?.trap === "imo" && !isRead && vcpu.ctx.sgi1r) {
    // access_gic_sgi → vgic_v3_dispatch_sgi: the SGI goes to the vcpus the value names.
    traceSysAccess(vcpu, enc, reg.name, true);
    vcpu.ctx.sgi1r(s.readX(rt));
    vcpu.skipInstruction();
    return resume(`${name} = ${hex(s.readX(rt))}: KVM sends the SGI (vgic_v3_dispatch_sgi)`);
  }
  if (reg?.trap === "el1pcen" && vcpu.ctx.settings.era === "today" && vcpu.ctx.timerReg) {
    // Today's kvm_arm_timer_read/write_sysreg: the EL1 physical timer emulated from the counter
    // (Linux v4.1 had no such entry: the access fell through to an undefined exception, below).
    traceSysAccess(vcpu, enc, reg.name, !isRead);
    const t = vcpu.ctx.timerReg;
    if (isRead) s.writeX(rt, t.read(reg.name) ?? 0n);
    else t.write(reg.name, s.readX(rt));
    vcpu.skipInstruction();
    return resume(isRead ? `${name} read emulated (physical timer): ${hex(t.read(reg.name) ?? 0n)}` : `${name} = ${hex(s.readX(rt))} emulated (physical timer)`);
  }
  if (reg?.trap === "tpm") {
    traceSysAccess(vcpu, enc, reg.name, !isRead);
    if (vcpu.ctx.settings.era === "2015") {
      // Linux v4.1 had no vPMU: its sys_reg_descs sent the PMU registers to trap_raz_wi.
      if (isRead) s.writeX(rt, 0n);
      vcpu.skipInstruction();
      return resume(isRead ? `read of ${name} trapped by MDCR_EL2.TPM: RAZ (trap_raz_wi)` : `write to ${name} trapped by MDCR_EL2.TPM: ignored (trap_raz_wi)`);
    }
    // Today's access_pm*: the vPMU (kvm/pmu.ts) emulates the register; a counter beyond PMCR_EL0.N is undefined.
    const v = isRead ? vcpu.pmu.read(reg) : vcpu.pmu.write(reg, s.readX(rt)) ? s.readX(rt) : undefined;
    if (v !== undefined) {
      if (isRead) s.writeX(rt, v);
      vcpu.skipInstruction();
      return resume(isRead ? `${name} read emulated (vPMU): ${hex(v)}` : `${name} = ${hex(v)} emulated (vPMU)`);
    }
  }
  if (reg && (reg.trap === "tid1" || reg.trap === "tid2" || reg.trap === "tid3" || reg.trap === "tacr")) {
    traceSysAccess(vcpu, enc, reg.name, !isRead);
    if (isRead) s.writeX(rt, vcpu.cpu.readSysregValue(reg.name));
    else if (reg.name === "CSSELR_EL1") vcpu.cpu.setReg(reg.name, s.readX(rt));
    vcpu.skipInstruction();
    return resume(isRead ? `${name} read emulated: ${hex(vcpu.cpu.readSysregValue(reg.name))}` : `write to ${name} ${reg.name === "CSSELR_EL1" ? "emulated" : "ignored"}`);
  }
  // emulate_sys_reg: the message names the trapping pc (kvm_err before kvm_inject_undefined moves it to the vector).
  const message = `Unsupported guest sys_reg access to ${name} at ${hex(s.pc)}: undefined instruction injected`;
  vcpu.injectUndefined();
  return resume(message);
};

export const EXIT_HANDLERS: Partial<Record<number, ExitHandler>> = {
  [EC.WFx]: handleWfx,
  [EC.HVC64]: handleHvc,
  [EC.SMC64]: handleSmc,
  [EC.SYS64]: handleSysReg,
  [EC.IABT_LOW]: (vcpu) => handleGuestAbort(vcpu),
  [EC.DABT_LOW]: (vcpu) => handleGuestAbort(vcpu),
};

/** handle_exit: the handler of the exit's exception class (`ec`), syndrome in vcpu.exitEsr. */
export function handleExit(vcpu: KvmVcpu, ec: number): HandleResult {
  vcpu.lastFlushBytes = 0;
  vcpu.lastUserspace = false;
  vcpu.stats.exits++;
  const handler = EXIT_HANDLERS[ec];
  if (handler) return handler(vcpu, ec);
  const cls = exceptionClass(ec);
  if (vcpu.ctx.settings.era === "2015") {
    return halt(`Unknown exception class: hsr: ${hex(vcpu.cpu.reg("ESR_EL2"))} (${cls.name}): KVM hits BUG() and the host oopses`);
  }
  vcpu.injectUndefined();
  return resume(`Unknown exception class ${cls.name}: KVM injects an undefined-instruction exception (kvm_handle_unknown_ec)`);
}
