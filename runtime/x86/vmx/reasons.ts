// VMX basic exit reasons: Intel SDM Vol. 3 Appendix C, Table C-1 ("Basic Exit Reasons"), with the
// names Linux uses (arch/x86/include/uapi/asm/vmx.h, EXIT_REASON_* and the VMX_EXIT_REASONS list
// that kvm_exit prints through __print_symbolic). `inTrace: false` marks reasons the v4.1 symbolic
// list does not name: ftrace then prints the number in hex, and so do we.

import type { Documented } from "../../core/machine.js";

export interface ExitReason extends Documented {
  code: number;
  /** Listed in Linux v4.1 VMX_EXIT_REASONS (else the trace shows the number). */
  inTrace: boolean;
}

const R = <N extends string>(code: number, name: N, doc: string, inTrace = true): ExitReason & { name: N } => ({
  code,
  name,
  doc,
  inTrace,
  source: "Intel SDM Vol. 3 Table C-1; Linux arch/x86/include/uapi/asm/vmx.h",
});

const EXIT_REASON_TABLE = [
  R(0, "EXCEPTION_NMI", "An exception whose vector is set in the exception bitmap, or an NMI"),
  R(1, "EXTERNAL_INTERRUPT", "An external interrupt arrived while external-interrupt exiting is on"),
  R(2, "TRIPLE_FAULT", "The guest triple-faulted (an exception while delivering a double fault)"),
  R(3, "INIT_SIGNAL", "An INIT signal arrived", false),
  R(4, "SIPI", "A start-up IPI arrived while in wait-for-SIPI state", false),
  R(5, "IO_SMI", "An SMI arrived right after an I/O instruction", false),
  R(6, "OTHER_SMI", "An SMI arrived", false),
  R(7, "PENDING_INTERRUPT", "Interrupt window: the guest can take interrupts again"),
  R(8, "NMI_WINDOW", "NMI window: the guest can take an NMI again"),
  R(9, "TASK_SWITCH", "A task switch was attempted"),
  R(10, "CPUID", "CPUID: always exits"),
  R(11, "GETSEC", "GETSEC: always exits", false),
  R(12, "HLT", "HLT with HLT exiting on"),
  R(13, "INVD", "INVD: always exits"),
  R(14, "INVLPG", "INVLPG with INVLPG exiting on"),
  R(15, "RDPMC", "RDPMC with RDPMC exiting on"),
  R(16, "RDTSC", "RDTSC with RDTSC exiting on"),
  R(17, "RSM", "RSM in SMM", false),
  R(18, "VMCALL", "VMCALL: the guest calls the hypervisor"),
  R(19, "VMCLEAR", "VMCLEAR in the guest"),
  R(20, "VMLAUNCH", "VMLAUNCH in the guest"),
  R(21, "VMPTRLD", "VMPTRLD in the guest"),
  R(22, "VMPTRST", "VMPTRST in the guest"),
  R(23, "VMREAD", "VMREAD in the guest"),
  R(24, "VMRESUME", "VMRESUME in the guest"),
  R(25, "VMWRITE", "VMWRITE in the guest"),
  R(26, "VMOFF", "VMXOFF in the guest"),
  R(27, "VMON", "VMXON in the guest"),
  R(28, "CR_ACCESS", "MOV to/from CR0/3/4/8, CLTS or LMSW that the controls trap (qualification: CR, access type, GPR)"),
  R(29, "DR_ACCESS", "MOV to/from a debug register with MOV-DR exiting on"),
  R(30, "IO_INSTRUCTION", "IN/OUT/INS/OUTS on a port the I/O bitmaps (or unconditional I/O exiting) trap"),
  R(31, "MSR_READ", "RDMSR of an MSR the MSR bitmap traps (ECX names it)"),
  R(32, "MSR_WRITE", "WRMSR of an MSR the MSR bitmap traps (ECX names it)"),
  R(33, "INVALID_STATE", "VM entry failed: invalid guest state"),
  R(34, "MSR_LOAD_FAIL", "VM entry failed: MSR loading"),
  R(36, "MWAIT_INSTRUCTION", "MWAIT with MWAIT exiting on"),
  R(37, "MONITOR_TRAP_FLAG", "Monitor trap flag: one guest instruction retired"),
  R(39, "MONITOR_INSTRUCTION", "MONITOR with MONITOR exiting on"),
  R(40, "PAUSE_INSTRUCTION", "PAUSE with PAUSE exiting or pause-loop exiting"),
  R(41, "MCE_DURING_VMENTRY", "VM entry failed: machine check"),
  R(43, "TPR_BELOW_THRESHOLD", "The virtual TPR dropped below the TPR threshold"),
  R(44, "APIC_ACCESS", "Access to the APIC-access page"),
  R(45, "EOI_INDUCED", "EOI virtualization"),
  R(46, "GDTR_IDTR", "LGDT/LIDT/SGDT/SIDT with descriptor-table exiting on", false),
  R(47, "LDTR_TR", "LLDT/LTR/SLDT/STR with descriptor-table exiting on", false),
  R(48, "EPT_VIOLATION", "A guest-physical access the EPT paging structures do not allow (qualification: access, permissions, GLA)"),
  R(49, "EPT_MISCONFIG", "An EPT entry is misconfigured (KVM uses this for fast MMIO)"),
  R(50, "INVEPT", "INVEPT in the guest", false),
  R(51, "RDTSCP", "RDTSCP with RDTSC exiting on", false),
  R(52, "PREEMPTION_TIMER", "The VMX-preemption timer counted down to zero", false),
  R(53, "INVVPID", "INVVPID in the guest"),
  R(54, "WBINVD", "WBINVD with WBINVD exiting on"),
  R(55, "XSETBV", "XSETBV: always exits", false),
  R(56, "APIC_WRITE", "A write to the virtual-APIC page that needs emulation"),
  R(57, "RDRAND", "RDRAND with RDRAND exiting on", false),
  R(58, "INVPCID", "INVPCID with INVLPG exiting on"),
  R(59, "VMFUNC", "VMFUNC failed", false),
  R(60, "ENCLS", "ENCLS with ENCLS exiting on", false),
  R(61, "RDSEED", "RDSEED with RDSEED exiting on", false),
  R(62, "PML_FULL", "The page-modification log is full", false),
  R(63, "XSAVES", "XSAVES with XSAVES exiting"),
  R(64, "XRSTORS", "XRSTORS with XSAVES exiting"),
  R(67, "UMWAIT", "UMWAIT with enable user wait and pause on", false),
  R(68, "TPAUSE", "TPAUSE with enable user wait and pause on", false),
  R(74, "BUS_LOCK", "A bus lock was asserted with bus-lock detection on", false),
  R(75, "NOTIFY", "No event window opened within the notify window (notify VM exiting)", false),
] as const;

/** The basic exit reasons, by code (Intel SDM Vol. 3 Table C-1). */
export const EXIT_REASONS: readonly ExitReason[] = EXIT_REASON_TABLE;
/** A basic exit reason's name, as the table spells it: a misspelt one is a compile error. */
export type ExitReasonName = (typeof EXIT_REASON_TABLE)[number]["name"];

const byCode = new Map(EXIT_REASONS.map((r) => [r.code, r]));
const byName = new Map(EXIT_REASONS.map((r) => [r.name, r]));

export function exitReason(codeOrName: number | string): ExitReason {
  const r = typeof codeOrName === "number" ? byCode.get(codeOrName) : byName.get(codeOrName.toUpperCase());
  if (!r) throw new Error(`unknown VMX exit reason ${String(codeOrName)}`);
  return r;
}

/**
 * Today's VMX_EXIT_REASONS (arch/x86/include/uapi/asm/vmx.h, Linux 6.x) where it differs from the
 * names above: reason 7 was renamed INTERRUPT_WINDOW (v5.5), SIPI is SIPI_SIGNAL; IO_SMI,
 * OTHER_SMI, GETSEC and RSM are still not listed. Every other reason above is listed (UMWAIT,
 * TPAUSE, BUS_LOCK and NOTIFY came after v4.1).
 */
const TODAY_TRACE_NAMES: ReadonlyMap<number, string | null> = new Map([
  [4, "SIPI_SIGNAL"], [5, null], [6, null], [7, "INTERRUPT_WINDOW"], [11, null], [17, null],
]);

/**
 * The reason name as __print_symbolic(exit_reason, VMX_EXIT_REASONS) prints it in an era's
 * kernel (v4.1 by default): a reason missing from that list prints as its number in hex.
 */
export function exitReasonTraceName(code: number, era: "2015" | "today" = "2015"): string {
  const r = byCode.get(code);
  if (era === "today" && r) {
    const name = TODAY_TRACE_NAMES.has(code) ? TODAY_TRACE_NAMES.get(code) : r.name;
    return name ?? "0x" + code.toString(16);
  }
  return r && r.inTrace ? r.name : "0x" + code.toString(16);
}

/** Exit reason numbers by name, for code (EXIT.CR_ACCESS), typed by the table's names. */
export const EXIT = Object.fromEntries(EXIT_REASONS.map((r) => [r.name, r.code])) as Readonly<Record<ExitReasonName, number>>;
