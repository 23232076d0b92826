// KVM's architecture-independent tracepoints (Linux v4.1 include/trace/events/kvm.h), shared by
// both machines: MMIO accesses and returns to the VMM. Their text has not changed since.

import { traceFields, type FieldValue, type Tracepoint } from "./trace.js";

const SRC_EVENTS = "Linux v4.1 include/trace/events/kvm.h";
const n = (f: Record<string, FieldValue>, k: string): bigint => BigInt((f[k] as bigint | number | boolean) ?? 0);

/** KVM_EXIT_* names of struct kvm_run (include/uapi/linux/kvm.h), as kvm_trace_exit_reason prints them. */
export const KVM_EXIT_NAMES: Record<number, string> = {
  0: "KVM_EXIT_UNKNOWN", 1: "KVM_EXIT_EXCEPTION", 2: "KVM_EXIT_IO", 3: "KVM_EXIT_HYPERCALL", 4: "KVM_EXIT_DEBUG",
  5: "KVM_EXIT_HLT", 6: "KVM_EXIT_MMIO", 7: "KVM_EXIT_IRQ_WINDOW_OPEN", 8: "KVM_EXIT_SHUTDOWN",
  9: "KVM_EXIT_FAIL_ENTRY", 10: "KVM_EXIT_INTR", 17: "KVM_EXIT_INTERNAL_ERROR", 24: "KVM_EXIT_SYSTEM_EVENT",
};

/** KVM_TRACE_MMIO_* as kvm_mmio prints them. */
export const MMIO_TYPES = ["unsatisfied-read", "read", "write"];

export const GENERIC_TRACEPOINTS: readonly Tracepoint[] = [
  {
    name: "kvm_mmio",
    fields: traceFields("type:num len:num gpa:u64 val:u64"),
    doc: "An MMIO access emulated by KVM (read, write, or a read not yet satisfied by the VMM).",
    source: SRC_EVENTS,
    eras: {
      "2015": { format: "mmio %s len %u gpa 0x%llx val 0x%llx", args: (f) => [MMIO_TYPES[Number(f.type)] ?? "?", n(f, "len"), n(f, "gpa"), n(f, "val")] },
    },
  },
  {
    name: "kvm_userspace_exit",
    fields: traceFields("reason:num errno:num"),
    doc: "KVM_RUN returned to the VMM (QEMU) with a kvm_run exit reason.",
    source: SRC_EVENTS,
    eras: { "2015": { format: "reason %s (%d)", args: (f) => [KVM_EXIT_NAMES[Number(f.reason)] ?? "?", n(f, "reason")] } },
  },
];

