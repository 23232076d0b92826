// The arm64 KVM tracepoints, each with the TP_printk text of its era. 2015: Linux 4.0/4.1
// arch/arm/kvm/trace.h (shared by arm and arm64: kvm_entry, kvm_exit with only the pc,
// kvm_guest_fault, kvm_mmio_emulate, kvm_set_way_flush, kvm_toggle_cache) and
// arch/arm64/kvm/trace.h (kvm_wfx_arm64, kvm_hvc_arm64). "today": arch/arm64/kvm/trace_arm.h and
// trace_handle_exit.h (pcs widened to %016lx; kvm_exit names the exit type and the class).
// Events named exitlab_* are this model's own and are not Linux tracepoints.

import { tracepointTable, traceFields, type FieldValue, type Tracepoint } from "../core/trace.js";
import { GENERIC_TRACEPOINTS } from "../core/kvm-events.js";

/**
 * kvm_arm_exception_class (arch/arm64/include/asm/kvm_arm.h, today): the ESR_ELx_EC_* names
 * kvm_exit prints through __print_symbolic; a class not listed (OTHER, BTI, ILL, the AArch32 SVC/
 * HVC/SMC, FPAC, SME, MOPS) prints as its number in hex.
 */
export const KVM_ARM_EXCEPTION_CLASS: Readonly<Record<number, string>> = {
  0x00: "UNKNOWN", 0x01: "WFx", 0x03: "CP15_32", 0x04: "CP15_64", 0x05: "CP14_MR", 0x06: "CP14_LS",
  0x07: "FP_ASIMD", 0x08: "CP10_ID", 0x09: "PAC", 0x0c: "CP14_64", 0x15: "SVC64", 0x16: "HVC64",
  0x17: "SMC64", 0x18: "SYS64", 0x19: "SVE", 0x1a: "ERET", 0x1f: "IMP_DEF", 0x20: "IABT_LOW", 0x21: "IABT_CUR",
  0x22: "PC_ALIGN", 0x24: "DABT_LOW", 0x25: "DABT_CUR", 0x26: "SP_ALIGN", 0x28: "FP_EXC32", 0x2c: "FP_EXC64",
  0x2f: "SERROR", 0x30: "BREAKPT_LOW", 0x31: "BREAKPT_CUR", 0x32: "SOFTSTP_LOW", 0x33: "SOFTSTP_CUR",
  0x34: "WATCHPT_LOW", 0x35: "WATCHPT_CUR", 0x38: "BKPT32", 0x3a: "VECTOR32", 0x3c: "BRK64",
};

/** kvm_arm_exception_type (arch/arm64/include/asm/kvm_asm.h): the exit types kvm_exit names. */
export const KVM_ARM_EXCEPTION_TYPE: Readonly<Record<number, string>> = { 0: "IRQ", 1: "SERROR", 2: "TRAP", 3: "ILLEGAL" };

/** __print_symbolic: the name, or "0x%x" of the value. */
const symbolic = (table: Readonly<Record<number, string>>, v: number): string => table[v] ?? "0x" + v.toString(16);

const SRC_2015 = "Linux v4.1 arch/arm/kvm/trace.h";
const SRC_ARM64 = "Linux v4.1 arch/arm64/kvm/trace.h";
const SRC_TODAY_EXIT = "Linux 6.x arch/arm64/kvm/trace_handle_exit.h";
type F = Record<string, FieldValue>;
const n = (f: F, k: string): bigint => BigInt((f[k] as bigint | number | boolean) ?? 0);

const ARM64_TRACEPOINT_ROWS = [
  ...GENERIC_TRACEPOINTS,
  {
    name: "kvm_entry",
    fields: traceFields("vcpu_pc:u64"),
    doc: "KVM enters the guest (__kvm_vcpu_run: world switch to the guest's EL1 state, eret).",
    source: SRC_2015,
    eras: {
      "2015": { format: "PC: 0x%08lx", args: (f) => [n(f, "vcpu_pc")] },
      today: { format: "PC: 0x%016lx", args: (f) => [n(f, "vcpu_pc")] },
    },
  },
  {
    name: "kvm_exit",
    fields: traceFields("vcpu_pc:u64 esr_ec:u32 type:u32"),
    doc: "The guest left for EL2 (a trap, or a physical interrupt: IRQ) and KVM's run loop saw the exit; today's text adds the exit type and the exception class (an IRQ exit prints the last trap's).",
    source: SRC_2015,
    eras: {
      "2015": { format: "PC: 0x%08lx", args: (f) => [n(f, "vcpu_pc")] },
      today: {
        format: "%s: HSR_EC: 0x%04x (%s), PC: 0x%016lx",
        // ARM_EXCEPTION_CODE(ret) through kvm_arm_exception_type (arch/arm64/include/asm/kvm_asm.h).
        args: (f) => [symbolic(KVM_ARM_EXCEPTION_TYPE, Number(f.type ?? 2)), n(f, "esr_ec"), symbolic(KVM_ARM_EXCEPTION_CLASS, Number(f.esr_ec)), n(f, "vcpu_pc")],
      },
    },
  },
  {
    name: "kvm_guest_fault",
    fields: traceFields("vcpu_pc:u64 hsr:u64 hxfar:u64 ipa:u64"),
    doc: "A stage-2 abort reached kvm_handle_guest_abort: faulting IPA (4 KiB granularity, from HPFAR_EL2), ESR_EL2 (hsr), FAR_EL2 (hxfar) and pc.",
    source: SRC_2015,
    eras: {
      "2015": { format: "ipa %#llx, hsr %#08lx, hxfar %#08lx, pc %#08lx", args: (f) => [n(f, "ipa"), n(f, "hsr"), n(f, "hxfar"), n(f, "vcpu_pc")] },
      today: { format: "ipa %#llx, hsr %#08lx, hxfar %#08lx, pc %#016lx", args: (f) => [n(f, "ipa"), n(f, "hsr"), n(f, "hxfar"), n(f, "vcpu_pc")] },
    },
  },
  {
    name: "kvm_mmio_emulate",
    fields: traceFields("vcpu_pc:u64 instr:u64 cpsr:u64"),
    doc: "KVM emulated an MMIO instruction by decoding it (exitlab: only with `set pair_mmio on`).",
    source: SRC_2015,
    eras: {
      "2015": { format: "Emulate MMIO at: 0x%08lx (instr: %08lx, cpsr: %08lx)", args: (f) => [n(f, "vcpu_pc"), n(f, "instr"), n(f, "cpsr")] },
      today: { format: "Emulate MMIO at: 0x%016lx (instr: %08lx, cpsr: %08lx)", args: (f) => [n(f, "vcpu_pc"), n(f, "instr"), n(f, "cpsr")] },
    },
  },
  {
    name: "kvm_toggle_cache",
    fields: traceFields("vcpu_pc:u64 was:bool now:bool"),
    doc: "A trapped VM-register write (HCR_EL2.TVM) changed or kept the guest's cache state (SCTLR_EL1.M and C).",
    source: SRC_2015,
    eras: { "2015": { format: "VM op at 0x%016lx (cache was %s, now %s)", args: (f) => [n(f, "vcpu_pc"), f.was ? "on" : "off", f.now ? "on" : "off"] } },
  },
  {
    name: "kvm_set_way_flush",
    fields: traceFields("vcpu_pc:u64 cache:bool"),
    doc: "The guest used set/way cache maintenance (trapped by HCR_EL2.TSW); KVM flushes the whole VM instead.",
    source: SRC_2015,
    eras: { "2015": { format: "S/W flush at 0x%016lx (cache %s)", args: (f) => [n(f, "vcpu_pc"), f.cache ? "on" : "off"] } },
  },
  {
    name: "kvm_wfx_arm64",
    fields: traceFields("vcpu_pc:u64 is_wfe:bool"),
    doc: "The guest executed WFI or WFE with TWI/TWE set.",
    source: SRC_ARM64,
    eras: {
      "2015": { format: "guest executed wf%c at: 0x%08lx", args: (f) => [f.is_wfe ? "e" : "i", n(f, "vcpu_pc")] },
      today: { format: "guest executed wf%c at: 0x%016lx", args: (f) => [f.is_wfe ? "e" : "i", n(f, "vcpu_pc")] },
    },
  },
  {
    name: "kvm_hvc_arm64",
    fields: traceFields("vcpu_pc:u64 r0:u64 imm:u32"),
    doc: "The guest made a hypercall (HVC): pc after the HVC, x0 (the PSCI function) and the immediate.",
    source: SRC_ARM64,
    eras: {
      "2015": { format: "HVC at 0x%08lx (r0: 0x%08lx, imm: 0x%lx)", args: (f) => [n(f, "vcpu_pc"), n(f, "r0"), n(f, "imm")] },
      today: { format: "HVC at 0x%016lx (r0: 0x%016lx, imm: 0x%lx)", args: (f) => [n(f, "vcpu_pc"), n(f, "r0"), n(f, "imm")] },
    },
  },
  {
    name: "kvm_handle_sys_reg",
    fields: traceFields("hsr:u64"),
    doc: "Today's KVM entered kvm_handle_sys_reg for a trapped MSR/MRS/SYS (EC 0x18) with this ESR_EL2 (not in Linux v4.1).",
    source: SRC_TODAY_EXIT,
    // Emitted in the today era only; v4.1 had no such tracepoint (the 2015 text is today's).
    eras: { "2015": { format: "HSR 0x%08lx", args: (f) => [n(f, "hsr")] } },
  },
  {
    name: "kvm_sys_access",
    fields: traceFields("vcpu_pc:u64 name:str op0:u32 op1:u32 crn:u32 crm:u32 op2:u32 is_write:bool"),
    doc: "Today's KVM emulated a system register access through a sys_reg_desc (perform_access): pc, the descriptor's name and encoding, read or write (not in Linux v4.1).",
    source: SRC_TODAY_EXIT,
    eras: {
      "2015": {
        format: "PC: %lx %s (%d,%d,%d,%d,%d) %s",
        args: (f) => [n(f, "vcpu_pc"), String(f.name || "UNKN"), n(f, "op0"), n(f, "op1"), n(f, "crn"), n(f, "crm"), n(f, "op2"), f.is_write ? "write" : "read"],
      },
    },
  },
  {
    name: "kvm_irq_line",
    fields: traceFields("type:u32 vcpu_idx:u32 irq_num:u32 level:u32"),
    doc: "The VMM raised an interrupt line (KVM_IRQ_LINE): type 1 = SPI, 2 = PPI (to vcpu_idx); num is the INTID (arch/arm64/kvm/arm.c kvm_vm_ioctl_irq_line).",
    source: SRC_2015,
    eras: {
      "2015": {
        format: "Inject %s interrupt (%d), vcpu->idx: %d, num: %d, level: %d",
        args: (f) => [Number(f.type) === 0 ? "CPU" : Number(f.type) === 2 ? "VGIC PPI" : Number(f.type) === 1 ? "VGIC SPI" : "UNKNOWN", n(f, "type"), n(f, "vcpu_idx"), n(f, "irq_num"), n(f, "level")],
      },
    },
  },
  {
    name: "vgic_update_irq_pending",
    fields: traceFields("vcpu_id:u32 irq:u32 level:bool"),
    doc: "KVM's vGIC was told an interrupt line's level (kvm_vgic_inject_irq): from KVM_IRQ_LINE (an SPI: vcpu 0; a PPI: its vCPU) or a timer whose output changed (kvm_timer_update_irq). Not in Linux v4.1: emitted in the today era only.",
    source: "Linux 4.7+ virt/kvm/arm/vgic/trace.h (arch/arm64/kvm/vgic/trace.h since 5.9); called in vgic.c kvm_vgic_inject_irq",
    // TP_printk("VCPU: %ld, IRQ %d, level: %d"); the 2015 text is today's (v4.1 had no such tracepoint).
    eras: { "2015": { format: "VCPU: %ld, IRQ %d, level: %d", args: (f) => [n(f, "vcpu_id"), n(f, "irq"), f.level ? 1n : 0n] } },
  },
  {
    name: "exitlab_stage2_map",
    fields: traceFields("ipa:u64 size:u64 flushed:bool exec:bool"),
    doc: "exitlab model event (not a Linux tracepoint): user_mem_abort mapped a page in stage 2, cleaning it to PoC when the guest's caches were off.",
    source: "exitlab model of Linux v4.1 arch/arm/kvm/mmu.c user_mem_abort",
    eras: {
      "2015": {
        format: "ipa %#llx size %#lx%s%s",
        args: (f) => [n(f, "ipa"), n(f, "size"), f.exec ? " (instruction fetch)" : "", f.flushed ? ", dcache cleaned (guest caches off)" : ""],
      },
    },
  },
] as const satisfies readonly Tracepoint[];
export const ARM64_TRACEPOINTS: readonly Tracepoint[] = ARM64_TRACEPOINT_ROWS;
/** The name of an arm64 tracepoint exitlab emits (a misspelt one is a compile error at the emit site). */
export type Arm64TracepointName = (typeof ARM64_TRACEPOINT_ROWS)[number]["name"];

/** The table this machine's trace formats its events with. */
export const ARM64_TRACEPOINT_TABLE = tracepointTable(ARM64_TRACEPOINTS);
