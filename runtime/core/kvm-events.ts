// KVM's architecture-independent tracepoints (include/trace/events/kvm.h), shared by both
// machines: MMIO accesses, returns to the VMM and a blocked vCPU's wake-up. The TP_printk texts are the same in Linux v4.1
// and today; what changed is kvm_trace_exit_reason, the KVM_EXIT_* names __print_symbolic knows.

import { traceFields, type FieldValue, type Tracepoint } from "./trace.js";

const SRC_EVENTS = "Linux v4.1 include/trace/events/kvm.h";
const n = (f: Record<string, FieldValue>, k: string): bigint => BigInt((f[k] as bigint | number | boolean) ?? 0);

/**
 * KVM_EXIT_* numbers of struct kvm_run (include/uapi/linux/kvm.h), each with its name in
 * kvm_trace_exit_reason (include/trace/events/kvm.h, ERSN(x) → "KVM_EXIT_" #x). v4.1's list ends
 * at SYSTEM_EVENT (24); today's (Linux 6.x) at X86_WRMSR (30): ARM_NISV was added to it in 2020
 * (a fix to c726200dd106d, "KVM: arm/arm64: Allow reporting non-ISV data aborts to userspace"),
 * the X86_RDMSR/WRMSR pair with user-space MSR exits (v5.10). Exit reasons past a list print as
 * a hex number (__print_symbolic).
 */
const KVM_EXITS = [
  [0, "UNKNOWN"], [1, "EXCEPTION"], [2, "IO"], [3, "HYPERCALL"], [4, "DEBUG"], [5, "HLT"], [6, "MMIO"],
  [7, "IRQ_WINDOW_OPEN"], [8, "SHUTDOWN"], [9, "FAIL_ENTRY"], [10, "INTR"], [11, "SET_TPR"], [12, "TPR_ACCESS"],
  [13, "S390_SIEIC"], [14, "S390_RESET"], [15, "DCR"], [16, "NMI"], [17, "INTERNAL_ERROR"], [18, "OSI"],
  [19, "PAPR_HCALL"], [20, "S390_UCONTROL"], [21, "WATCHDOG"], [22, "S390_TSCH"], [23, "EPR"], [24, "SYSTEM_EVENT"],
  [25, "S390_STSI"], [26, "IOAPIC_EOI"], [27, "HYPERV"], [28, "ARM_NISV"], [29, "X86_RDMSR"], [30, "X86_WRMSR"],
] as const satisfies readonly (readonly [number, string])[];

/** A KVM_EXIT_* name without the prefix ("MMIO"). */
export type KvmExitName = (typeof KVM_EXITS)[number][1];

const exitNames = (last: number): Readonly<Record<number, string>> =>
  Object.fromEntries(KVM_EXITS.filter(([code]) => code <= last).map(([code, name]) => [code, "KVM_EXIT_" + name]));

/** kvm_trace_exit_reason by era: the names kvm_userspace_exit prints. */
export const KVM_EXIT_NAMES = { "2015": exitNames(24), today: exitNames(30) } as const;

/** KVM_EXIT_* numbers the machines return with (include/uapi/linux/kvm.h); a misspelt name is a compile error. */
export const KVM_EXIT = Object.fromEntries(KVM_EXITS.map(([code, name]) => [name, code])) as Readonly<Record<KvmExitName, number>>;

/** Errno values KVM_RUN fails with (include/uapi/asm-generic/errno-base.h, errno.h). */
export const ERRNO = { EINTR: 4, EFAULT: 14, EINVAL: 22, ENOSYS: 38 } as const;

/** KVM_TRACE_MMIO_* as kvm_mmio prints them (kvm_trace_symbol_mmio). */
export const MMIO_TYPES = ["unsatisfied-read", "read", "write"];

/**
 * kvm_userspace_exit's text: "reason %s (%d)" with, for a failed KVM_RUN (errno < 0), "restart"
 * (-EINTR) or "error" and the positive errno; otherwise the exit reason's name and number.
 */
function userspaceExitArgs(names: Readonly<Record<number, string>>, f: Record<string, FieldValue>): [string, bigint] {
  const errno = Number(f.errno ?? 0);
  if (errno < 0) return [errno === -ERRNO.EINTR ? "restart" : "error", BigInt(-errno)];
  const reason = Number(n(f, "reason") & 0xffff_ffffn);
  return [names[reason] ?? "0x" + reason.toString(16), BigInt(reason)];
}

export const GENERIC_TRACEPOINTS = [
  {
    name: "kvm_mmio",
    fields: traceFields("type:num len:num gpa:u64 val:u64"),
    doc: "An MMIO access emulated by KVM (read, write, or a read not yet satisfied by the VMM).",
    source: SRC_EVENTS,
    eras: {
      "2015": { format: "mmio %s len %u gpa 0x%llx val 0x%llx", args: (f) => [MMIO_TYPES[Number(f.type)] ?? "0x" + Number(f.type).toString(16), n(f, "len"), n(f, "gpa"), n(f, "val")] },
    },
  },
  {
    name: "kvm_userspace_exit",
    fields: traceFields("reason:num errno:num"),
    doc: "KVM_RUN returned to the VMM (QEMU): with a kvm_run exit reason, or failed with an errno (\"error\").",
    source: SRC_EVENTS,
    eras: {
      "2015": { format: "reason %s (%d)", args: (f) => userspaceExitArgs(KVM_EXIT_NAMES["2015"], f) },
      today: { format: "reason %s (%d)", args: (f) => userspaceExitArgs(KVM_EXIT_NAMES.today, f) },
    },
  },
  {
    name: "kvm_vcpu_wakeup",
    fields: traceFields("ns:u64 waited:bool valid:bool"),
    doc: "A vCPU blocked in kvm_vcpu_block (arm64 WFI, x86 HLT) woke up: how long it waited (modelled time); today adds whether halt polling was valid. x86 traces it when a VM has several vCPUs (one vCPU's HLT wake-up is part of its HLT exit here).",
    source: SRC_EVENTS,
    eras: {
      "2015": { format: "%s time %lld ns", args: (f) => [f.waited ? "wait" : "poll", n(f, "ns")] },
      today: { format: "%s time %lld ns, polling %s", args: (f) => [f.waited ? "wait" : "poll", n(f, "ns"), f.valid ? "valid" : "invalid"] },
    },
  },
] as const satisfies readonly Tracepoint[];
