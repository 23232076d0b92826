// The x86 KVM tracepoints, each with the TP_printk text and the TP_fast_assign of its era.
// 2015: Linux v4.1 arch/x86/kvm/trace.h and include/trace/events/kvm.h (kvm_mmio,
// kvm_userspace_exit). "today": the same files in the KVM x86 tree of Linux 6.1x (kvm-x86/linux at
// aebed32e): kvm_exit gained the vcpu and info1/info2/intr_info/error_code (v5.10, 235ba74f008d),
// kvm_entry the rip and the "[immediate exit]" mark, kvm_page_fault the vcpu and rip, kvm_cpuid
// the index and "cpuid entry found". Each event records what the hardware and KVM handed the
// tracepoint; the era's `args` does what that era's TP_fast_assign did with it (kvm_exit: v4.1
// vmx_get_exit_info put VM_EXIT_INTR_INFO in info2, today's puts IDT_VECTORING_INFO_FIELD there).
// Symbolic fields (__print_symbolic) print a value missing from their table as "0x%x", as ftrace
// does.

import { tracepointTable, traceFields, type FieldValue, type Tracepoint } from "../core/trace.js";
import { exitReasonTraceName } from "./vmx/reasons.js";
import { GENERIC_TRACEPOINTS } from "../core/kvm-events.js";
import { APIC_REGISTERS, DELIVERY_MODES, DEST_SHORTHANDS } from "./apic/registers.js";

const SRC_2015 = "Linux v4.1 arch/x86/kvm/trace.h";

type F = Record<string, FieldValue>;
const n = (f: F, k: string): bigint => BigInt(f[k] as bigint | number | boolean ?? 0);
/** A field the tracepoint stores as a 32-bit C type (unsigned int, u32): the low 32 bits. */
const u32 = (f: F, k: string): bigint => n(f, k) & 0xffff_ffffn;

/** kvm_trace_symbol_emul_flags (trace.h, both eras): the emulator's mode names by kei_decode_mode. */
function emulMode(mode: string, csD: boolean): string {
  if (mode === "long64") return "prot64";
  if (mode === "real") return "real";
  return csD ? "prot32" : "prot16";
}

/** kvm_trace_sym_exc (trace.h, v4.1 and today): EXS(DE) … EXS(MC); NMI, #XM and later vectors are not in it. */
export const KVM_TRACE_SYM_EXC: Readonly<Record<number, string>> = {
  0: "#DE", 1: "#DB", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF", 10: "#TS",
  11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF", 17: "#AC", 18: "#MC",
};

/** __print_symbolic(value, table): the name, or the value as "0x%x" when the table lacks it. */
export function printSymbolic(table: Readonly<Record<number, string>>, value: number): string {
  return table[value] ?? "0x" + (value >>> 0).toString(16);
}

/** VM-exit interruption information bits (SDM Vol. 3 24.9.2, Table 24-15): valid (31), error code valid (11). */
const INTR_INFO_VALID = 0x8000_0000n;
const INTR_INFO_DELIVER_CODE = 0x800n;
/** VMX_EXIT_REASONS_FAILED_VMENTRY (exit reason bit 31, SDM 24.9.1). */
const FAILED_VMENTRY = 0x8000_0000n;

/**
 * Today's vmx_get_exit_info (arch/x86/kvm/vmx/vmx.c, since v5.10): info2 = IDT-vectoring
 * information, intr_info = VM-exit interruption information, error_code = the VM-exit
 * interruption error code when is_exception_with_error_code(intr_info) (valid and
 * deliver-error-code both set), else 0; all three 0 after a failed VM entry.
 */
function exitInfoToday(f: F): { info2: bigint; intrInfo: bigint; errorCode: bigint } {
  if (n(f, "exit_reason") & FAILED_VMENTRY) return { info2: 0n, intrInfo: 0n, errorCode: 0n };
  const intrInfo = u32(f, "intr_info");
  const mask = INTR_INFO_VALID | INTR_INFO_DELIVER_CODE;
  return { info2: u32(f, "idt_vectoring_info"), intrInfo, errorCode: (intrInfo & mask) === mask ? u32(f, "intr_error_code") : 0n };
}

const X86_BASE_TRACEPOINTS = [
  ...GENERIC_TRACEPOINTS,
  {
    name: "kvm_exit",
    fields: traceFields("exit_reason:u32 guest_rip:u64 isa:u32 info1:u64 intr_info:u32 idt_vectoring_info:u32 intr_error_code:u32 vcpu_id:u32"),
    doc: "The guest exited to KVM: exit reason, guest rip, exit qualification (info1); info2 is the VM-exit interruption information in 2015 and the IDT-vectoring information today (vmx_get_exit_info).",
    source: SRC_2015,
    eras: {
      "2015": {
        // v4.1: kvm_x86_ops->get_exit_info = vmx_get_exit_info: info1 = EXIT_QUALIFICATION,
        // info2 = VM_EXIT_INTR_INFO; both printed %llx (no 0x).
        format: "reason %s rip 0x%lx info %llx %llx",
        args: (f) => [exitReasonTraceName(Number(f.exit_reason)), n(f, "guest_rip"), n(f, "info1"), u32(f, "intr_info")],
      },
      today: {
        // kvm_print_exit_reason: the basic reason's name, then " " and the flag names when bits 31:16 are set.
        format: "vcpu %u reason %s%s%s rip 0x%lx info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x",
        args: (f) => {
          const x = exitInfoToday(f);
          const flags = n(f, "exit_reason") & FAILED_VMENTRY ? "FAILED_VMENTRY" : "";
          return [n(f, "vcpu_id"), exitReasonTraceName(Number(n(f, "exit_reason") & 0xffffn), "today"), flags ? " " : "", flags, n(f, "guest_rip"), n(f, "info1"), x.info2, x.intrInfo, x.errorCode];
        },
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
      // Today: "vcpu %u, rip 0x%lx%s", the %s "[immediate exit]" only for a forced immediate exit (none here).
      today: { format: "vcpu %u, rip 0x%lx%s", args: (f) => [n(f, "vcpu_id"), n(f, "rip"), ""] },
    },
  },
  {
    name: "kvm_cr",
    fields: traceFields("rw:u32 cr:u32 val:u64"),
    doc: "KVM emulated a control-register access (handle_cr).",
    source: SRC_2015,
    eras: { "2015": { format: "cr_%s %x = 0x%lx", args: (f) => [f.rw ? "write" : "read", u32(f, "cr"), n(f, "val")] } },
  },
  {
    name: "kvm_msr",
    fields: traceFields("write:u32 ecx:u32 data:u64 exception:bool"),
    doc: "KVM emulated RDMSR/WRMSR (handle_rdmsr/handle_wrmsr); (#GP) if it injected a fault.",
    source: SRC_2015,
    eras: {
      "2015": { format: "msr_%s %x = 0x%llx%s", args: (f) => [f.write ? "write" : "read", u32(f, "ecx"), n(f, "data"), f.exception ? " (#GP)" : ""] },
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
        args: (f) => [f.rw ? "write" : "read", u32(f, "port"), u32(f, "size"), u32(f, "count"), u32(f, "val"), u32(f, "count") > 1n ? "(...)" : ""],
      },
    },
  },
  {
    name: "kvm_cpuid",
    fields: traceFields("function:u32 index:u32 rax:u32 rbx:u32 rcx:u32 rdx:u32 found:bool used_max_basic:bool"),
    doc: "KVM answered CPUID from the VMM-provided table (kvm_emulate_cpuid).",
    source: SRC_2015,
    eras: {
      "2015": { format: "func %x rax %lx rbx %lx rcx %lx rdx %lx", args: (f) => [n(f, "function"), n(f, "rax"), n(f, "rbx"), n(f, "rcx"), n(f, "rdx")] },
      today: {
        format: "func %x idx %x rax %lx rbx %lx rcx %lx rdx %lx, cpuid entry %s%s",
        args: (f) => [n(f, "function"), n(f, "index"), n(f, "rax"), n(f, "rbx"), n(f, "rcx"), n(f, "rdx"), f.found ? "found" : "not found", f.used_max_basic ? ", used max basic" : ""],
      },
    },
  },
  {
    name: "kvm_page_fault",
    fields: traceFields("fault_address:u64 error_code:u64 vcpu_id:num guest_rip:u64"),
    doc: "A two-dimensional paging fault: in handle_ept_violation, the guest-physical address and the exit qualification.",
    source: SRC_2015,
    eras: {
      // v4.1: error_code is an unsigned int (the exit qualification truncated by the assignment).
      "2015": { format: "address %lx error_code %x", args: (f) => [n(f, "fault_address"), u32(f, "error_code")] },
      today: {
        format: "vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx",
        args: (f) => [n(f, "vcpu_id"), n(f, "guest_rip"), n(f, "fault_address"), n(f, "error_code")],
      },
    },
  },
  {
    name: "kvm_emulate_insn",
    fields: traceFields("csbase:u64 rip:u64 insn:str mode:str cs_d:bool failed:bool"),
    doc: "KVM's x86 instruction emulator decoded an instruction (trace_kvm_emulate_insn_start, also when the decode failed) or gave up on it (failed): cs base, rip, the bytes it fetched, mode.",
    source: SRC_2015,
    eras: {
      "2015": {
        // csbase is a __u32 (%x); insn is __print_hex of the fetched bytes; the mode via kei_decode_mode.
        format: "%x:%llx:%s (%s)%s",
        args: (f) => [u32(f, "csbase"), n(f, "rip"), String(f.insn), emulMode(String(f.mode), f.cs_d !== false), f.failed ? " failed" : ""],
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
        // v4.1: "%s (0x%x)", the error code or 0 ("FIXME: don't print error_code if not present").
        format: "%s (0x%x)",
        args: (f) => [printSymbolic(KVM_TRACE_SYM_EXC, Number(f.exception)), f.has_error ? u32(f, "error_code") : 0n],
      },
      today: {
        // Today: the error code only when there is one, through __print_symbolic(error_code, { }) (so "0x%x").
        format: "%s%s%s%s%s",
        args: (f) => [
          printSymbolic(KVM_TRACE_SYM_EXC, Number(f.exception)),
          f.has_error ? " (" : "",
          f.has_error ? printSymbolic({}, Number(u32(f, "error_code"))) : "",
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
] as const satisfies readonly Tracepoint[];

/** kvm_trace_symbol_apic (trace.h): the register names kvm_apic prints, from the APIC register table. */
const APIC_REG_NAMES: Readonly<Record<number, string>> = Object.fromEntries(APIC_REGISTERS.filter((r) => !/\d$/.test(r.name) && r.name !== "LVTCMCI").map((r) => [r.offset, "APIC_" + r.name]));
/** kvm_deliver_mode (trace.h), by ICR/LVT delivery mode. */
const DELIVER_MODE: Readonly<Record<number, string>> = Object.fromEntries(DELIVERY_MODES.map((m, i) => [i, m]));

/** kvm_ioapic_set_irq's arguments from the redirection entry `e` (82093AA datasheet 3.2.4). */
function ioapicArgs(f: Record<string, FieldValue>): (bigint | string)[] {
  const e = n(f, "e");
  return [n(f, "pin"), (e >> 56n) & 0xffn, e & 0xffn, printSymbolic(DELIVER_MODE, Number((e >> 8n) & 7n)), e & (1n << 11n) ? "logical" : "physical",
    e & (1n << 15n) ? "level" : "edge", e & (1n << 16n) ? "|masked" : "", f.coalesced ? " (coalesced)" : ""];
}

/** The in-kernel local APIC's events (Linux v4.1 arch/x86/kvm/trace.h; today's text where it changed). */
export const X86_APIC_TRACEPOINTS = [
  {
    name: "kvm_apic",
    fields: traceFields("rw:u32 reg:u32 val:u64"),
    doc: "The guest read or wrote a local APIC register that KVM emulates (apic_reg_read/kvm_lapic_reg_write).",
    source: SRC_2015,
    eras: {
      "2015": { format: "apic_%s %s = 0x%x", args: (f) => [f.rw ? "write" : "read", printSymbolic(APIC_REG_NAMES, Number(f.reg)), u32(f, "val")] },
      // Today val is a u64 (the x2APIC ICR is written whole).
      today: { format: "apic_%s %s = 0x%llx", args: (f) => [f.rw ? "write" : "read", printSymbolic(APIC_REG_NAMES, Number(f.reg)), n(f, "val")] },
    },
  },
  {
    name: "kvm_pic_set_irq",
    fields: traceFields("chip:u32 pin:u32 elcr:u32 imr:u32 coalesced:bool"),
    doc: "The in-kernel 8259A PIC's pin was driven by the VMM (kvm_pic_set_irq, i8259.c): chip (0 master, 1 slave), pin, edge or level (ELCR), masked (IMR), coalesced with a request already pending.",
    source: `${SRC_2015}; i8259.c kvm_pic_set_irq (the same text today)`,
    eras: {
      "2015": {
        format: "chip %u pin %u (%s%s)%s",
        args: (f) => {
          const bit = 1n << n(f, "pin");
          return [u32(f, "chip"), u32(f, "pin"), n(f, "elcr") & bit ? "level" : "edge", n(f, "imr") & bit ? "|masked" : "", f.coalesced ? " (coalesced)" : ""];
        },
      },
    },
  },
  {
    name: "kvm_set_irq",
    fields: traceFields("gsi:u32 level:num irq_source_id:num"),
    doc: "The VMM drove a GSI (KVM_IRQ_LINE → kvm_set_irq, virt/kvm/irqchip.c): the line, its level, the source (0: user space, KVM_USERSPACE_IRQ_SOURCE_ID).",
    source: "Linux v4.1 include/trace/events/kvm.h (the same text today)",
    eras: { "2015": { format: "gsi %u level %d source %d", args: (f) => [u32(f, "gsi"), n(f, "level"), n(f, "irq_source_id")] } },
  },
  {
    name: "kvm_ioapic_set_irq",
    fields: traceFields("e:u64 pin:num coalesced:bool"),
    doc: "An I/O APIC pin was driven (ioapic_set_irq): the pin and its redirection entry (destination, vector, delivery mode, destination mode, trigger, mask), and whether the request coalesced with one pending.",
    source: "Linux v4.1 include/trace/events/kvm.h (\"vec=%u\"); today arch/x86/kvm/trace.h (\"vec %u\")",
    eras: {
      "2015": { format: "pin %u dst %x vec=%u (%s|%s|%s%s)%s", args: (f) => ioapicArgs(f) },
      today: { format: "pin %u dst %x vec %u (%s|%s|%s%s)%s", args: (f) => ioapicArgs(f) },
    },
  },
  {
    name: "kvm_apic_accept_irq",
    fields: traceFields("apicid:u32 dm:u32 tm:bool vec:u32"),
    doc: "The local APIC accepted an interrupt into its IRR (__apic_accept_irq).",
    source: SRC_2015,
    eras: {
      "2015": {
        format: "apicid %x vec %u (%s|%s)",
        args: (f) => [u32(f, "apicid"), u32(f, "vec") & 0xffn, printSymbolic(DELIVER_MODE, (Number(f.dm) >> 8) & 7), f.tm ? "level" : "edge"],
      },
    },
  },
  {
    name: "kvm_apic_ipi",
    fields: traceFields("icr_low:u32 dest_id:u32"),
    doc: "The guest wrote the ICR: KVM sends the IPI (apic_send_ipi).",
    source: SRC_2015,
    eras: {
      "2015": {
        format: "dst %x vec %u (%s|%s|%s|%s|%s)",
        args: (f) => {
          const low = Number(u32(f, "icr_low"));
          return [u32(f, "dest_id"), BigInt(low & 0xff), printSymbolic(DELIVER_MODE, (low >> 8) & 7), low & (1 << 11) ? "logical" : "physical",
            low & (1 << 14) ? "assert" : "de-assert", low & (1 << 15) ? "level" : "edge", DEST_SHORTHANDS[(low >> 18) & 3]!];
        },
      },
    },
  },
  {
    name: "kvm_eoi",
    fields: traceFields("apicid:u32 vector:u32"),
    doc: "An EOI retired the highest in-service vector (apic_set_eoi).",
    source: SRC_2015,
    eras: { "2015": { format: "apicid %x vector %d", args: (f) => [u32(f, "apicid"), u32(f, "vector")] } },
  },
  {
    name: "kvm_inj_virq",
    fields: traceFields("irq:u32 soft:bool reinjected:bool"),
    doc: "KVM injected an external interrupt at VM entry (vmx_inject_irq).",
    source: SRC_2015,
    eras: {
      "2015": { format: "irq %u", args: (f) => [u32(f, "irq")] },
      // Today (Linux 6.x trace.h): the kind, the vector in hex, and re-injection.
      today: { format: "%s 0x%x%s", args: (f) => [f.soft ? "Soft/INTn" : "IRQ", u32(f, "irq"), f.reinjected ? " [reinjected]" : ""] },
    },
  },
] as const satisfies readonly Tracepoint[];

/** The table this machine's trace formats its events with. */
/** Every x86 tracepoint: KVM's exit path and the in-kernel APIC's. */
export const X86_TRACEPOINTS: readonly Tracepoint[] = [...X86_BASE_TRACEPOINTS, ...X86_APIC_TRACEPOINTS];
/** The name of an x86 tracepoint exitlab emits (a misspelt one is a compile error at the emit site). */
export type X86TracepointName = (typeof X86_BASE_TRACEPOINTS)[number]["name"] | (typeof X86_APIC_TRACEPOINTS)[number]["name"];

export const X86_TRACEPOINT_TABLE = tracepointTable(X86_TRACEPOINTS);

/** Space-separated hex bytes, as __print_hex prints them. */
export function hexBytes(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" ");
}
