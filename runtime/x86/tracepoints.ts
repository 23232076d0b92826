// The x86 KVM tracepoints, each with the TP_printk text of its era. 2015: Linux v4.1
// arch/x86/kvm/trace.h and include/trace/events/kvm.h (kvm_mmio, kvm_userspace_exit); "today":
// the same files in current Linux (kvm_exit gained the vcpu and info1/info2/intr_info/error_code,
// kvm_entry the rip, kvm_page_fault the vcpu and rip). Symbolic fields (__print_symbolic) are
// resolved by the `args` functions from the same tables the hardware model uses.

import { tracepointTable, traceFields, type FieldValue, type Tracepoint } from "../core/trace.js";
import { exitReasonTraceName } from "./vmx/reasons.js";
import { GENERIC_TRACEPOINTS } from "../core/kvm-events.js";
import { EXCEPTION_NAMES } from "./vmx/qualification.js";

const SRC_2015 = "Linux v4.1 arch/x86/kvm/trace.h";

type F = Record<string, FieldValue>;
const n = (f: F, k: string): bigint => BigInt(f[k] as bigint | number | boolean ?? 0);


/** kvm_trace_symbol_emul_flags (trace.h): the emulator's mode names. */
function emulMode(mode: string): string {
  return mode === "long64" ? "prot64" : mode === "protected32" ? "prot32" : mode === "compat" ? "prot32" : "real";
}


export const X86_TRACEPOINTS: readonly Tracepoint[] = [
  ...GENERIC_TRACEPOINTS,
  {
    name: "kvm_exit",
    fields: traceFields("exit_reason:u32 guest_rip:u64 isa:u32 info1:u64 info2:u64 intr_info:u32 error_code:u32 vcpu_id:u32"),
    doc: "The guest exited to KVM: basic exit reason, guest rip, exit qualification (info1) and VM-exit interruption information (info2).",
    source: SRC_2015,
    eras: {
      "2015": {
        format: "reason %s rip 0x%lx info %llx %llx",
        args: (f) => [exitReasonTraceName(Number(f.exit_reason)), n(f, "guest_rip"), n(f, "info1"), n(f, "info2")],
      },
      today: {
        format: "vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x",
        args: (f) => [n(f, "vcpu_id"), exitReasonTraceName(Number(f.exit_reason)), "", "", n(f, "guest_rip"), n(f, "info1"), n(f, "info2"), n(f, "intr_info"), n(f, "error_code")],
      },
    },
  },
  {
    name: "kvm_entry",
    fields: traceFields("vcpu_id:u32 rip:u64"),
    doc: "KVM enters the guest (VMLAUNCH/VMRESUME).",
    source: SRC_2015,
    eras: {
      "2015": { format: "vcpu %u", args: (f) => [n(f, "vcpu_id")] },
      today: { format: "vcpu %u, rip 0x%lx", args: (f) => [n(f, "vcpu_id"), n(f, "rip")] },
    },
  },
  {
    name: "kvm_cr",
    fields: traceFields("rw:u32 cr:u32 val:u64"),
    doc: "KVM emulated a control-register access (handle_cr).",
    source: SRC_2015,
    eras: { "2015": { format: "cr_%s %x = 0x%lx", args: (f) => [f.rw ? "write" : "read", n(f, "cr"), n(f, "val")] } },
  },
  {
    name: "kvm_msr",
    fields: traceFields("write:u32 ecx:u32 data:u64 exception:bool"),
    doc: "KVM emulated RDMSR/WRMSR (handle_rdmsr/handle_wrmsr); (#GP) if it injected a fault.",
    source: SRC_2015,
    eras: {
      "2015": { format: "msr_%s %x = 0x%llx%s", args: (f) => [f.write ? "write" : "read", n(f, "ecx"), n(f, "data"), f.exception ? " (#GP)" : ""] },
    },
  },
  {
    name: "kvm_pio",
    fields: traceFields("rw:u32 port:u32 size:u32 count:u32 val:u64"),
    doc: "Port I/O handled by KVM (and passed to the VMM when no in-kernel device claims it).",
    source: SRC_2015,
    eras: {
      "2015": {
        format: "pio_%s at 0x%x size %d count %d val 0x%x %s",
        args: (f) => [f.rw ? "write" : "read", n(f, "port"), n(f, "size"), n(f, "count"), n(f, "val"), n(f, "count") > 1n ? "(...)" : ""],
      },
    },
  },
  {
    name: "kvm_cpuid",
    fields: traceFields("function:u32 index:u32 rax:u32 rbx:u32 rcx:u32 rdx:u32 found:bool"),
    doc: "KVM answered CPUID from the VMM-provided table (kvm_emulate_cpuid).",
    source: SRC_2015,
    eras: {
      "2015": { format: "func %x rax %lx rbx %lx rcx %lx rdx %lx", args: (f) => [n(f, "function"), n(f, "rax"), n(f, "rbx"), n(f, "rcx"), n(f, "rdx")] },
      today: {
        format: "func %x idx %x rax %lx rbx %lx rcx %lx rdx %lx, cpuid entry %s%s",
        args: (f) => [n(f, "function"), n(f, "index"), n(f, "rax"), n(f, "rbx"), n(f, "rcx"), n(f, "rdx"), f.found ? "found" : "not found", ""],
      },
    },
  },
  {
    name: "kvm_page_fault",
    fields: traceFields("fault_address:u64 error_code:u64 vcpu_id:num guest_rip:u64"),
    doc: "A two-dimensional paging fault: in handle_ept_violation, the guest-physical address and the exit qualification.",
    source: SRC_2015,
    eras: {
      "2015": { format: "address %lx error_code %x", args: (f) => [n(f, "fault_address"), n(f, "error_code")] },
      today: {
        format: "vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx",
        args: (f) => [n(f, "vcpu_id"), n(f, "guest_rip"), n(f, "fault_address"), n(f, "error_code")],
      },
    },
  },
  {
    name: "kvm_emulate_insn",
    fields: traceFields("csbase:u64 rip:u64 insn:str mode:str failed:bool"),
    doc: "KVM's x86 instruction emulator (emulate.c) ran an instruction: cs base, rip, bytes, mode.",
    source: SRC_2015,
    eras: {
      "2015": {
        format: "%x:%llx:%s (%s)%s",
        args: (f) => [n(f, "csbase"), n(f, "rip"), String(f.insn), emulMode(String(f.mode)), f.failed ? " failed" : ""],
      },
    },
  },
  {
    name: "kvm_inj_exception",
    fields: traceFields("exception:u32 has_error:bool error_code:u32 reinjected:bool"),
    doc: "KVM injected an exception into the guest at the next VM entry.",
    source: SRC_2015,
    eras: {
      "2015": {
        format: "%s (0x%x)",
        args: (f) => [EXCEPTION_NAMES[Number(f.exception)] ?? String(f.exception), f.has_error ? n(f, "error_code") : 0n],
      },
      today: {
        // Since 2022 the error code is printed only when there is one; re-injected events are marked.
        format: "%s%s%s%s%s",
        args: (f) => [
          EXCEPTION_NAMES[Number(f.exception)] ?? String(f.exception),
          f.has_error ? " (" : "",
          f.has_error ? "0x" + n(f, "error_code").toString(16) : "",
          f.has_error ? ")" : "",
          f.reinjected ? " [reinjected]" : "",
        ],
      },
    },
  },
  {
    name: "kvm_hypercall",
    fields: traceFields("nr:u64 a0:u64 a1:u64 a2:u64 a3:u64"),
    doc: "The guest made a hypercall (VMCALL).",
    source: SRC_2015,
    eras: {
      "2015": { format: "nr 0x%lx a0 0x%lx a1 0x%lx a2 0x%lx a3 0x%lx", args: (f) => [n(f, "nr"), n(f, "a0"), n(f, "a1"), n(f, "a2"), n(f, "a3")] },
    },
  },
];

/** The table this machine's trace formats its events with. */
export const X86_TRACEPOINT_TABLE = tracepointTable(X86_TRACEPOINTS);

/** Space-separated hex bytes, as __print_hex prints them. */
export function hexBytes(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}
