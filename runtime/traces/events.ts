// What each KVM tracepoint's text says, as data: one entry per event name with the patterns of its
// TP_printk text in each era and on each architecture, whose named groups are the event table's
// columns (runtime/traces/table.ts). Read by the trace readers (runtime/traces/reader.ts); exitlab's
// own traces are adapted through the same table (runtime/traces/adapt.ts), so loaded and modelled
// events land in the same columns. An event not listed here is kept as a generic event (its name,
// prefix columns and body text); a listed event whose text matches none of its patterns is a
// malformed line.
//
// Sources of the formats: Linux v4.1 and 6.x arch/x86/kvm/trace.h, arch/arm/kvm/trace.h (v4.1),
// arch/arm64/kvm/trace_arm.h and trace_handle_exit.h (6.x), include/trace/events/kvm.h; the eras
// are summarised in shared/reference/kvm-tracepoints.md and exitlab's own formats are
// runtime/x86/tracepoints.ts and runtime/arm64/tracepoints.ts.

import type { Arch } from "../core/machine.js";
import { EXIT, EXIT_REASONS } from "../x86/vmx/reasons.js";
import { EXCEPTION_CLASSES } from "../arm64/esr.js";

const HEX = "(?:0x)?[0-9a-fA-F]+";
/** A %#llx value: "0" or 0x followed by hex digits. */
const ALT = "0x[0-9a-fA-F]+|0";

export interface EventPattern {
  /** The architecture whose kernel prints this text, when only one does. */
  arch?: Arch;
  /** Named groups: vcpu (decimal), reason, type (arm64 exit type), ec, pc, info1, info2, intr_info, error_code, gpa (hex). */
  re: RegExp;
}

export interface EventSpec {
  event: string;
  /** Era and source of each pattern, for `help` and reviewers. */
  source: string;
  patterns: readonly EventPattern[];
  /** The body text is kept (its fields are not all in columns). */
  keepBody: boolean;
  /**
   * arm64 (2015): an exit this event follows gets this exception class when its kvm_exit named
   * none (Linux v4.1's kvm_exit prints only the pc): "hsr" takes the EC from the event's ESR.
   */
  resolvesEc?: number | "hsr";
}

const r = (s: string): RegExp => new RegExp(`^${s}$`);

/** The event table. */
export const EVENT_SPECS: readonly EventSpec[] = [
  {
    event: "kvm_exit",
    source: "x86: v4.1 `reason %s rip 0x%lx info %llx %llx`; since 2019 `vcpu %u ` first; 6.x `... info1 0x%016llx info2 0x%016llx intr_info 0x%08x error_code 0x%08x`. arm: v4.1 `PC: 0x%08lx`; later `%s: HSR_EC: 0x%04x (%s), PC: 0x%016lx` (ESR_EC in some trees)",
    keepBody: false,
    patterns: [
      { arch: "x86_64", re: r(`(?:vcpu (?<vcpu>\\d+) )?reason (?<reason>\\S+)(?: FAILED_VMENTRY)? rip (?<pc>${HEX}) info1? (?<info1>${HEX}) (?:info2 )?(?<info2>${HEX})(?: intr_info (?<intr_info>${HEX}) error_code (?<error_code>${HEX}))?`) },
      { arch: "arm64", re: r(`(?<type>\\w+): (?:HSR|ESR)_EC: (?<ec>${HEX}) \\((?:\\w+)\\), PC: (?<pc>${HEX})`) },
      { arch: "arm64", re: r(`PC: (?<pc>${HEX})`) },
    ],
  },
  {
    event: "kvm_entry",
    source: "x86: v4.1 `vcpu %u`; 6.x `vcpu %u, rip 0x%lx%s`. arm: `PC: 0x%08lx` (v4.1), `PC: 0x%016lx`",
    keepBody: false,
    patterns: [
      { arch: "x86_64", re: r(`vcpu (?<vcpu>\\d+)(?:, rip (?<pc>${HEX})(?: \\[immediate exit\\])?)?`) },
      { arch: "arm64", re: r(`PC: (?<pc>${HEX})`) },
    ],
  },
  {
    event: "kvm_guest_fault",
    source: "arm v4.1 `ipa %#llx, hsr %#08lx, hxfar %#08lx, pc %#08lx`; later pc %#016lx, `esr` for `hsr`",
    keepBody: false,
    resolvesEc: "hsr",
    patterns: [{ arch: "arm64", re: r(`ipa (?<gpa>${ALT}), (?:hsr|esr) (?<info1>${ALT}), hxfar (?<info2>${ALT}), pc (?<pc>${ALT})`) }],
  },
  { event: "kvm_mmio_emulate", source: "arm `Emulate MMIO at: 0x%08lx (instr: %08lx, cpsr: %08lx)`", keepBody: true, resolvesEc: 0x24, patterns: [{ arch: "arm64", re: r(`Emulate MMIO at: (?<pc>${HEX}) \\(instr: [0-9a-fA-F]+, cpsr: [0-9a-fA-F]+\\)`) }] },
  { event: "kvm_toggle_cache", source: "arm `VM op at 0x%016lx (cache was %s, now %s)`", keepBody: true, resolvesEc: 0x18, patterns: [{ arch: "arm64", re: r(`VM op at (?<pc>${HEX}) \\(cache was (?:on|off), now (?:on|off)\\)`) }] },
  { event: "kvm_set_way_flush", source: "arm `S/W flush at 0x%016lx (cache %s)`", keepBody: true, resolvesEc: 0x18, patterns: [{ arch: "arm64", re: r(`S/W flush at (?<pc>${HEX}) \\(cache (?:on|off)\\)`) }] },
  { event: "kvm_wfx_arm64", source: "arm64 `guest executed wf%c at: 0x%08lx` (%016lx later)", keepBody: true, resolvesEc: 0x01, patterns: [{ arch: "arm64", re: r(`guest executed wf[ie] at: (?<pc>${HEX})`) }] },
  { event: "kvm_hvc_arm64", source: "arm64 `HVC at 0x%08lx (r0: 0x%08lx, imm: 0x%lx)` (%016lx later)", keepBody: true, resolvesEc: 0x16, patterns: [{ arch: "arm64", re: r(`HVC at (?<pc>${HEX}) \\(r0: ${HEX}, imm: ${HEX}\\)`) }] },
  { event: "kvm_sys_access", source: "arm64 trace_handle_exit.h `PC: %lx %s (%d,%d,%d,%d,%d) %s`", keepBody: true, resolvesEc: 0x18, patterns: [{ arch: "arm64", re: r(`PC: (?<pc>${HEX}) \\S+ \\(\\d+,\\d+,\\d+,\\d+,\\d+\\) (?:read|write)`) }] },
  { event: "kvm_handle_sys_reg", source: "arm64 trace_handle_exit.h `HSR 0x%08lx`", keepBody: false, resolvesEc: "hsr", patterns: [{ arch: "arm64", re: r(`HSR (?<info1>${HEX})`) }] },
  { event: "kvm_access_fault", source: "arm `IPA: %lx`", keepBody: false, patterns: [{ arch: "arm64", re: r(`IPA: (?<gpa>${HEX})`) }] },
  { event: "exitlab_stage2_map", source: "exitlab's own model event (runtime/arm64/tracepoints.ts)", keepBody: true, patterns: [{ arch: "arm64", re: r(`ipa (?<gpa>${ALT}) size (?:${ALT}).*`) }] },
  {
    event: "kvm_page_fault",
    source: "x86 v4.1 `address %lx error_code %x`; 6.x `vcpu %u rip 0x%lx address 0x%016llx error_code 0x%llx`",
    keepBody: false,
    patterns: [
      { arch: "x86_64", re: r(`address (?<gpa>${HEX}) error_code (?<error_code>${HEX})`) },
      { arch: "x86_64", re: r(`vcpu (?<vcpu>\\d+) rip (?<pc>${HEX}) address (?<gpa>${HEX}) error_code (?<error_code>${HEX})`) },
    ],
  },
  { event: "kvm_cr", source: "x86 `cr_%s %x = 0x%lx`", keepBody: true, patterns: [{ arch: "x86_64", re: r(`cr_(?:read|write) [0-9a-fA-F]+ = ${HEX}`) }] },
  { event: "kvm_msr", source: "x86 `msr_%s %x = 0x%llx%s`", keepBody: true, patterns: [{ arch: "x86_64", re: r(`msr_(?:read|write) [0-9a-fA-F]+ = ${HEX}(?: \\(#GP\\))?`) }] },
  { event: "kvm_pio", source: "x86 `pio_%s at 0x%x size %d count %d val 0x%x %s`", keepBody: true, patterns: [{ arch: "x86_64", re: r(`pio_(?:read|write) at ${HEX} size \\d+ count \\d+(?: val ${HEX}.*)?`) }] },
  { event: "kvm_cpuid", source: "x86 v4.1 `func %x rax %lx rbx %lx rcx %lx rdx %lx`; 6.x adds idx and `, cpuid entry %s%s`", keepBody: true, patterns: [{ arch: "x86_64", re: r(`func [0-9a-fA-F]+ .*rax ${HEX} rbx ${HEX} rcx ${HEX} rdx ${HEX}.*`) }] },
  { event: "kvm_emulate_insn", source: "x86 `%x:%llx:%s (%s)%s`", keepBody: true, patterns: [{ arch: "x86_64", re: r(`[0-9a-fA-F]+:(?<pc>[0-9a-fA-F]+):.*`) }] },
  { event: "kvm_inj_exception", source: "x86 v4.1 `%s (0x%x)`; 6.x `%s%s%s%s%s`", keepBody: true, patterns: [{ arch: "x86_64", re: r(`#?\\w+.*`) }] },
  { event: "kvm_mmio", source: "include/trace/events/kvm.h `mmio %s len %u gpa 0x%llx val 0x%llx`", keepBody: true, patterns: [{ re: r(`mmio \\S+ len \\d+ gpa (?<gpa>${HEX}) val ${HEX}`) }] },
  { event: "kvm_userspace_exit", source: "include/trace/events/kvm.h `reason %s (%d)`", keepBody: true, patterns: [{ re: r(`reason \\S+ \\(-?\\d+\\)`) }] },
];

/** The spec of each listed event. */
export const EVENT_SPEC: ReadonlyMap<string, EventSpec> = new Map(EVENT_SPECS.map((s) => [s.event, s]));

/**
 * x86 reason names as kernels have printed them, folded to exitlab's (Intel SDM Table C-1 names
 * as Linux's VMX_EXIT_REASONS spells them): any case (`io_instruction`), today's renames
 * (INTERRUPT_WINDOW for PENDING_INTERRUPT since v5.5, SIPI_SIGNAL), and unlisted reasons printed
 * as a hex number by __print_symbolic ("0x5").
 */
const X86_ALIASES: Readonly<Record<string, number>> = { INTERRUPT_WINDOW: EXIT.PENDING_INTERRUPT, SIPI_SIGNAL: EXIT.SIPI };
const X86_BY_NAME = new Map(EXIT_REASONS.map((e) => [e.name.toUpperCase(), e]));
const X86_BY_CODE = new Map(EXIT_REASONS.map((e) => [e.code, e]));
/** Arm64 exception classes by EC (Arm ARM D17.2.37 ESR_EL2.EC; runtime/arm64/esr.ts). */
const ARM_BY_CODE = new Map(EXCEPTION_CLASSES.map((e) => [e.code, e]));

/** The canonical x86 reason and its number for a printed name; unknown names upper-cased, no number. */
export function canonicalX86Reason(printed: string): { reason: string; code?: number } {
  const up = printed.toUpperCase();
  if (/^0X[0-9A-F]+$/.test(up)) {
    const code = parseInt(up.slice(2), 16);
    return { reason: X86_BY_CODE.get(code)?.name ?? up.toLowerCase(), code };
  }
  const alias = X86_ALIASES[up];
  const e = alias !== undefined ? X86_BY_CODE.get(alias) : X86_BY_NAME.get(up);
  return e ? { reason: e.name, code: e.code } : { reason: up };
}

/** The canonical arm64 reason of an exception class (its name in the EC table, or 0x.. when unallocated). */
export function armReason(ec: number): string {
  return ARM_BY_CODE.get(ec)?.name ?? "0x" + ec.toString(16);
}

/**
 * The kvm_exit type names of arm64 (kvm_arm_exception_type: ARM_EXCEPTION_IRQ, EL1_SERROR, TRAP,
 * IL, HYP_GONE; arch/arm64/include/asm/kvm_asm.h): an exit other than TRAP is counted under its
 * type (an IRQ exit's HSR_EC is stale, often 0 "UNKNOWN", and means nothing).
 */
export const ARM_EXIT_TYPES = ["IRQ", "SERROR", "TRAP", "ILLEGAL", "HYP_GONE"] as const;

/** Reason of an exit no later event of the same exit explained (Linux v4.1 arm kvm_exit names no class). */
export const UNRESOLVED = "UNRESOLVED";

/** Parses a hex group ("0x1f", "1f", "0"). */
export function hexValue(s: string): bigint | number {
  const h = s.startsWith("0x") || s.startsWith("0X") ? s.slice(2) : s;
  return h.length <= 13 ? parseInt(h, 16) : BigInt("0x" + h);
}
