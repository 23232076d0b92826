// KVM's in-kernel irqchip for one vCPU (QEMU's default kernel-irqchip=on): the local APIC and the
// I/O APIC, and what KVM does with them around VM entry — Linux v4.1 arch/x86/kvm/x86.c
// inject_pending_event / enable_irq_window / update_cr8_intercept, vmx.c vmx_inject_irq,
// vmx_inject_nmi, the APIC-access page (vm_need_virtualize_apic_accesses) and APICv
// (vmx_refresh_apicv_exec_ctrl, vmx_hwapic_irr_update, vmx_load_eoi_exitmap). What the processor
// does with the same VMCS settings while the guest runs (interrupt-window and TPR-threshold exits,
// virtual-interrupt delivery, APIC-register virtualization, EOI virtualization: SDM Vol. 3 Chapter
// 29 "APIC Virtualization and Virtual Interrupts") is `poll` and `apicPageAccess` here: the
// machine calls poll at block boundaries, never inside a compiled block.

import type { X86TracepointName } from "../tracepoints.js";
import type { FieldValue, KvmEra } from "../../core/trace.js";
import { lookupField, type Vmcs } from "../vmx/fields.js";
import { ctl } from "../vmx/controls.js";
import { EXIT } from "../vmx/reasons.js";
import { INTR_TYPE } from "../vmx/qualification.js";
import { VmExitSignal, type ExitInfo } from "../state.js";
import { LocalApic } from "../apic/lapic.js";
import { IoApic, IOAPIC_BASE } from "../apic/ioapic.js";
import { LapicWindows } from "../apic/lapic-window.js";
import { APIC_DEFAULT_BASE, apicOffset, x2apicAccess, x2apicOffset } from "../apic/registers.js";
import { RFLAGS_IF } from "../state.js";
import type { X86State } from "../env.js";
import type { X86Cpu } from "../cpu.js";
import type { MmioBus } from "../../core/bus.js";
import { ExitlabError } from "../../core/errors.js";
import type { VmTimers } from "../pc-timers.js";
import { raiseTrapExit } from "../trap-exit.js";
import { MASK64 } from "../../core/bits.js";

/** The host's local-timer vector (Linux arch/x86/include/asm/irq_vectors.h LOCAL_TIMER_VECTOR). */
export const HOST_TIMER_VECTOR = 0xef;
/** The host's reschedule IPI (irq_vectors.h RESCHEDULE_VECTOR): kvm_vcpu_kick sends it to a vCPU in guest mode. */
export const RESCHEDULE_VECTOR = 0xfd;
/** KVM's posted-interrupt notification vector (irq_vectors.h POSTED_INTR_VECTOR). */
export const POSTED_INTR_VECTOR = 0xf2;
/** APIC-access exit qualification (SDM Vol. 3 Table 28-6, 27-6 in older editions): offset and access type. */
export const APIC_ACCESS_QUAL = {
  name: "APIC access",
  source: "Intel SDM Vol. 3 Table 27-6 (28-6, 29-6 in later editions)",
  fields: [
    { name: "offset", lsb: 0, width: 12, radix: "hex" as const, doc: "offset of the access in the APIC page" },
    { name: "access_type", lsb: 12, width: 4, values: ["linear-read", "linear-write", "linear-fetch", "event-delivery", "", "", "", "", "", "", "guest-physical-event", "guest-physical-fetch"], doc: "access type" },
  ],
};

/** APIC registers whose reads APIC-register virtualization satisfies from the virtual-APIC page (SDM 29.4.2); TMCCT is not one. */
const VIRTUALIZED_READS = new Set([
  "ID", "LVR", "TASKPRI", "EOI", "PROCPRI", "LDR", "DFR", "SPIV", "ESR", "ICR", "ICR2", "LVTT", "LVTTHMR", "LVTPC", "LVT0", "LVT1", "LVTERR", "LVTCMCI", "TMICT", "TDCR",
].map(apicOffset));
for (let i = 0; i < 8; i++) for (const r of [0x100, 0x180, 0x200]) VIRTUALIZED_READS.add(r + 16 * i);

const TASKPRI = apicOffset("TASKPRI"), EOI = apicOffset("EOI"), ICR = apicOffset("ICR"), ICR2 = apicOffset("ICR2"), SELF_IPI = apicOffset("SELF_IPI");
/** x2APIC MSRs whose writes APICv virtualizes: TPR, EOI, SELF_IPI (SDM 29.5). */
const X2APIC_VIRTUAL_WRITES = new Set([0x808, 0x80b, 0x83f]);

export interface IrqHost {
  vmcs: Vmcs;
  cpu: X86Cpu;
  bus: MmioBus;
  /** Modelled cycles now. */
  now(): number;
  emit(name: X86TracepointName, fields: Record<string, FieldValue>): void;
  /** KVM's MSR-bitmap update (vmx_enable/disable_intercept_for_msr). */
  setMsrIntercept(msr: number, write: boolean, on: boolean): void;
  /** An IPI for other vCPUs (the SMP machine routes it; LapicHost.onIpi). */
  onIpi?(icrLow: number, dest: number): void;
  /** The KVM modelled (LapicHost.era). */
  era?(): KvmEra;
  /**
   * Instructions this vCPU has retired (run, or completed by KVM), live: what ends STI's
   * one-instruction shadow. Unset: the modelled clock stands in (one vCPU, whose time is its own).
   */
  retired?(): number;
  /** An APIC's xAPIC page moved (IA32_APIC_BASE): the VM's windows follow (lapic-window.ts); unset with one vCPU, whose irqchip keeps its own. */
  apicBaseMoved?(): void;
}

/** APICv: the `apicv` setting, else the era's KVM on its CPU (off on 2015's Haswell-like host, on today). */
export function apicvOn(settings: { era: KvmEra; apicv?: unknown }): boolean {
  return settings.apicv === undefined ? settings.era !== "2015" : settings.apicv === true;
}

export class KvmIrqChip {
  readonly lapic: LocalApic;
  readonly ioapic: IoApic;
  /** APICv (enable_apicv): APIC-register virtualization, virtual-interrupt delivery, posted interrupts. */
  apicv = false;
  /**
   * Cycle at which the running guest must be looked at (poll) next: the timer's deadline, or 0
   * while an interrupt waits for a window, the TPR to drop, or (APICv) virtual delivery.
   */
  nextEvent = Infinity;
  /** Whether refresh left anything in the VMCS to undo (a window, a TPR threshold, RVI/SVI). */
  private armed = false;
  /** A write APICv turned into APIC_WRITE: the value, for handle_apic_write. */
  pendingWrite = 0;
  /** The VM's legacy PIC (the machine's KvmPic): its INTR output and the acknowledge cycle (kvm_pic_read_irq). */
  pic?: { readonly output: boolean; readIrq(): number };

  /** The VM's timers besides the APIC's (the PIT, the RTC: pc-timers.ts); their deadlines bound the guest's run too. */
  timers?: VmTimers;

  /** The next deadline of the APIC timer or the VM's other timers, cycles. */
  private timerDeadline(): number {
    const d = this.lapic.timerDeadline;
    return this.timers ? Math.min(d, this.timers.deadline) : d;
  }

  /** kvm_cpu_has_extint: the PIC's INTR is high and this vCPU's LINT0 takes it (kvm_apic_accept_pic_intr). */
  hasExtint(): boolean {
    return this.pic !== undefined && this.pic.output && this.lapic.acceptsPicIntr();
  }

  /**
   * @param apicId the local APIC's ID (the vCPU's id, as KVM and QEMU number them)
   * @param shared the VM's I/O APIC when it has several vCPUs: then the machine puts the APIC
   *   page and the I/O APIC on the bus (each access reaches the running vCPU's APIC)
   */
  constructor(private readonly host: IrqHost, apicId = 0, shared?: IoApic) {
    this.lapic = new LocalApic(apicId, {
      now: () => host.now(),
      tscOffset: () => Number(host.vmcs.read("TSC_OFFSET")),
      cr8: { get: () => Number(host.cpu.state.cr8 & 0xfn), set: (v) => void (host.cpu.state.cr8 = BigInt(v & 0xf)) },
      emit: (name, fields) => host.emit(name, fields),
      onEoi: (v) => this.ioapic.eoi(v),
      onIpi: host.onIpi ? (low, dest) => host.onIpi!(low, dest) : undefined,
      era: host.era ? () => host.era!() : undefined,
    });
    this.ioapic = shared ?? new IoApic({ deliver: (vector, level, mode) => this.lapic.acceptIrq(vector, level, mode) });
    if (shared) return;
    this.windows = new LapicWindows(host.bus, { loaded: () => this.lapic, all: () => [this.lapic] });
    host.bus.add(IOAPIC_BASE, 0x20, this.ioapic);
  }

  /** The xAPIC page on the bus when this irqchip maps its own (one vCPU). */
  private windows?: LapicWindows;

  /** IA32_APIC_BASE moved this vCPU's xAPIC page: the bus regions follow. */
  apicBaseMoved(): void {
    if (this.windows) this.windows.sync();
    else this.host.apicBaseMoved?.();
  }

  /** kvm_vcpu_kick of this vCPU while it runs: the host's reschedule IPI makes it exit (EXTERNAL_INTERRUPT) at the next block boundary. */
  private kicked = false;
  kick(): void {
    this.kicked = true;
    this.nextEvent = 0;
  }

  /** A kick while the vCPU was out of guest mode (blocked in HLT, in KVM's handler): it only wakes it, no reschedule exit follows. */
  clearKick(): void {
    this.kicked = false;
  }

  private get vmcs(): Vmcs {
    return this.host.vmcs;
  }

  /**
   * vmx_vcpu_setup's APIC part: the APIC-access page at 0xfee00000 (flexpriority with an in-kernel
   * irqchip) and, with APICv, register virtualization, virtual-interrupt delivery and posted
   * interrupts (vmx_secondary_exec_control, vmx_pin_based_exec_ctrl).
   */
  setup(apicv: boolean): void {
    this.apicv = apicv;
    const v = this.vmcs;
    v.write("APIC_ACCESS_ADDR", APIC_DEFAULT_BASE);
    v.setBits("SECONDARY_VM_EXEC_CONTROL", ctl("SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES"), true);
    const apicvBits = ctl("SECONDARY_EXEC_APIC_REGISTER_VIRT") | ctl("SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY");
    v.setBits("SECONDARY_VM_EXEC_CONTROL", apicvBits >>> 0, apicv);
    v.setBits("PIN_BASED_VM_EXEC_CONTROL", ctl("PIN_BASED_POSTED_INTR"), apicv);
    v.write("POSTED_INTR_NV", apicv ? POSTED_INTR_VECTOR : 0);
    this.updateApicMode();
    this.refresh();
  }

  /**
   * vmx_set_virtual_apic_mode + vmx_update_msr_bitmap_x2apic (today; v4.1's
   * vmx_set_virtual_x2apic_mode): in x2APIC mode with APICv, "virtualize x2APIC mode" replaces the
   * APIC-access page; reads of the readable x2APIC MSRs pass the MSR bitmap (but TMCCT, 0x839:
   * the bitmap's read half is ~kvm_lapic_readable_reg_mask, so a write-only or reserved one exits
   * and KVM #GPs it) and writes of TPR (0x808), EOI (0x80b) and SELF_IPI (0x83f) too; otherwise
   * every x2APIC MSR exits. A globally disabled APIC (LAPIC_MODE_DISABLED) has neither with APICv:
   * its page is no APIC page and reads all ones (without APICv, as on v4.1, the page stays
   * virtualized: an access exits and reaches the disabled APIC, which reads all ones too).
   */
  updateApicMode(): void {
    const v = this.vmcs;
    const x2 = this.apicv && this.lapic.x2apic;
    v.setBits("SECONDARY_VM_EXEC_CONTROL", ctl("SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE"), x2);
    v.setBits("SECONDARY_VM_EXEC_CONTROL", ctl("SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES"), !x2 && (this.lapic.hwEnabled || !this.apicv));
    for (let msr = 0x800; msr <= 0x8ff; msr++) {
      this.host.setMsrIntercept(msr, false, !x2 || msr === 0x839 || !x2apicAccess(x2apicOffset(msr)).includes("r"));
      this.host.setMsrIntercept(msr, true, !x2 || !X2APIC_VIRTUAL_WRITES.has(msr));
    }
  }

  /**
   * An x2APIC MSR access the MSR bitmap let through (SDM 29.5): with virtualize x2APIC mode, reads
   * from the virtual-APIC page; TPR and EOI writes virtualized; a SELF_IPI write is virtual
   * self-IPI (SDM 29.1.3): the vector enters VIRR, no exit. A virtualized write with reserved bits
   * set — TPR or SELF_IPI bits 63:8, EOI any bit (SDM Vol. 3 29.5) — is "gp": the processor's #GP.
   * Undefined when not virtualized (the processor's own #GP path then applies).
   */
  x2apicMsrAccess(msr: number, write: boolean, value: bigint): bigint | undefined | "gp" {
    if (!(this.vmcs.readNum(SECONDARY) & VIRT_X2APIC)) return undefined;
    const l = this.lapic;
    const off = x2apicOffset(msr);
    if (write && (off === EOI ? value !== 0n : value >> 8n !== 0n)) return "gp";
    if (!write) {
      if (off === ICR) return (BigInt(l.readReg(ICR2)) << 32n) | BigInt(l.readReg(ICR));
      return BigInt(l.readReg(off));
    }
    const v = Number(value & 0xffff_ffffn);
    if (off === EOI) {
      const vec = l.highestIsr();
      if (vec >= 0 && l.levelTriggered(vec)) throw new VmExitSignal({ reason: EXIT.EOI_INDUCED, qualification: BigInt(vec) });
      l.eoi(false);
    } else if (off === SELF_IPI) l.acceptIrq(v & 0xff, false, 0);
    else l.writeReg(off, v);
    this.refresh();
    return value;
  }

  /** Whether the guest can take an external interrupt now (vmx_interrupt_allowed): RFLAGS.IF and no STI shadow. */
  private interruptible(): boolean {
    const s = this.host.cpu.state;
    if ((s.rflags & RFLAGS_IF) === 0n) return false;
    return !this.stiShadowHolds();
  }

  /**
   * Whether an NMI can be delivered now: no blocking by NMI and none by STI (vmx_nmi_blocked:
   * GUEST_INTR_STATE_NMI | GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS; SDM Vol. 3 Table 25-3
   * lets a processor hold NMIs in the STI shadow, and KVM never injects one there). The
   * NMI-window exit waits for the same (SDM 26.7.6: "A logical processor may also prevent such a
   * VM exit if there is blocking of events by STI"), so an NMI never lands right after STI.
   */
  private nmiAllowed(): boolean {
    return !this.host.cpu.state.nmiBlocked && !this.stiShadowHolds();
  }

  /** Whether STI's one-instruction shadow still holds events back at rip (see interruptible). */
  private stiShadowHolds(): boolean {
    const s = this.host.cpu.state;
    if (!this.atStiShadow(s)) return false;
    // rip is where STI's shadow was: either just after the STI (blocked), or back there after the
    // instruction in the shadow retired (a loop: `sti; 1: jmp 1b`). The shadow lasts one instruction
    // (SDM Vol. 3 6.8.3): the first look after an STI notes this vCPU's retired instructions, and
    // one retired since ends it — not time, which other vCPUs move while this one waits at its
    // shadow (the NMI that would land right after STI). The machine runs one instruction at a time
    // while the shadow holds an event back (machine-run.ts execMany), so the next look comes soon.
    const now = this.host.retired ? this.host.retired() : this.host.now();
    if (this.shadowSti !== s.stiCount) {
      this.shadowSti = s.stiCount;
      this.shadowSeenAt = now;
      return true;
    }
    if (now === this.shadowSeenAt) return true;
    s.stiShadow = undefined;
    return false;
  }

  /** Whether STI's interrupt shadow covers the current instruction (it may hold an interrupt back). */
  inStiShadow(): boolean {
    return this.atStiShadow(this.host.cpu.state);
  }

  /**
   * Whether rip is the rip STI's shadow covers (stiShadow === rip). On the register file's numbers
   * (X86Regs.pc, the sign-extended rip) with the shadow's number kept per shadow: the machine asks
   * at every block boundary while an event waits, and the BigInt rip getter allocated each time.
   */
  private atStiShadow(s: X86State): boolean {
    const shadow = s.stiShadow;
    if (shadow === undefined) return false;
    const pc = (s as { pc?: unknown }).pc;
    if (typeof pc !== "number" || shadow < 0n || shadow > MASK64) return shadow === s.rip;
    if (shadow !== this.shadowKey) (this.shadowKey = shadow), (this.shadowPc = Number(BigInt.asIntN(64, shadow)));
    return this.shadowPc === pc;
  }

  /** The last STI shadow atStiShadow saw, and its rip as the register file's sign-extended number. */
  private shadowKey: bigint | undefined = undefined;
  private shadowPc = NaN;

  /** The STI (X86State.stiCount) whose shadow interruptible() last saw, and when (IrqHost.retired, else modelled cycles). */
  private shadowSti: number | undefined = undefined;
  private shadowSeenAt = 0;

  /**
   * inject_pending_event at VM entry, unless VM entry already injects an event: an NMI, else the
   * APIC's highest deliverable vector (kvm_inj_virq, vmx_inject_irq) when the guest can take it,
   * else the interrupt window is requested (enable_irq_window). With APICv the vector goes to RVI
   * instead (vmx_hwapic_irr_update) and the processor delivers it: no window exit.
   */
  beforeEntry(): void {
    const v = this.vmcs;
    const l = this.lapic;
    // The common exit: nothing requested, no window or threshold armed: only the timer to watch.
    const extint = this.hasExtint();
    if (!this.armed && !l.nmiPending && !extint && l.highestIrr() < 0) {
      this.nextEvent = this.timerDeadline();
      return;
    }
    const busy = v.readNum(ENTRY_INTR) >>> 31 === 1;
    const s = this.host.cpu.state;
    if (!busy && l.nmiPending && this.nmiAllowed()) {
      // vmx_inject_nmi: the NMI blocks further NMIs until the guest's IRET.
      l.nmiPending = false;
      s.nmiBlocked = true;
      v.write("VM_ENTRY_INTR_INFO_FIELD", (0x8000_0000 | (INTR_TYPE.NMI << 8) | 2) >>> 0);
    } else if (!busy && extint) {
      // kvm_cpu_get_interrupt: the PIC's interrupt first (kvm_cpu_get_extint → kvm_pic_read_irq, the
      // acknowledge cycle gives the vector), injected even with APICv; no TPR/PPR applies to it.
      if (this.interruptible()) {
        const vec = this.pic!.readIrq();
        this.host.emit("kvm_inj_virq", { irq: vec, soft: false, reinjected: false });
        v.write("VM_ENTRY_INTR_INFO_FIELD", (0x8000_0000 | (INTR_TYPE.EXTERNAL << 8) | vec) >>> 0);
      }
    } else if (!busy && !this.apicv) {
      const vec = l.pendingVector();
      if (vec >= 0 && this.interruptible()) {
        l.ackInterrupt(vec);
        this.host.emit("kvm_inj_virq", { irq: vec, soft: false, reinjected: false });
        v.write("VM_ENTRY_INTR_INFO_FIELD", (0x8000_0000 | (INTR_TYPE.EXTERNAL << 8) | vec) >>> 0);
      }
    }
    this.refresh();
  }

  /** The interrupt-window and TPR-threshold controls and RVI/SVI from the APIC's state; nextEvent after them. */
  refresh(): void {
    const v = this.vmcs, l = this.lapic;
    const irr = l.highestIrr();
    const pending = irr < 0 ? -1 : l.pendingVector();
    let watch = false;
    let window = false;
    if (this.apicv) {
      // GUEST_INTR_STATUS: RVI (bits 7:0) the highest IRR, SVI (15:8) the highest ISR (a guest-state
      // field: written only when it changes, so an unchanged entry stays cheap).
      const status = Math.max(0, irr) | (Math.max(0, l.highestIsr()) << 8);
      if (v.readNum(INTR_STATUS) !== status) v.writeField(INTR_STATUS, status);
      watch = pending >= 0;
    } else if (irr >= 0) {
      window = pending >= 0 && v.readNum(ENTRY_INTR) >>> 31 === 0;
      // update_cr8_intercept: TPR_THRESHOLD = the class of the highest IRR the TPR holds back.
      const isr = l.highestIsr();
      const held = pending < 0 && l.enabled && (irr & 0xf0) <= l.tpr() && (irr & 0xf0) > (isr < 0 ? 0 : isr & 0xf0);
      const threshold = held ? irr >> 4 : 0;
      if (v.readNum(TPR_THRESHOLD) !== threshold) v.writeField(TPR_THRESHOLD, threshold);
      watch = window || held;
    } else if (v.readNum(TPR_THRESHOLD) !== 0) v.writeField(TPR_THRESHOLD, 0);
    // The PIC's interrupt waits for an interrupt window, APICv or not (kvm_cpu_has_injectable_intr).
    if (this.hasExtint() && v.readNum(ENTRY_INTR) >>> 31 === 0) window = watch = true;
    // enable_nmi_window: an NMI held back by blocking by NMI waits for the NMI window.
    const nmiWait = l.nmiPending && v.readNum(ENTRY_INTR) >>> 31 === 0;
    const ctls = v.readNum(CPU_BASED);
    const next = ((ctls & ~(WINDOW | NMI_WINDOW)) | (window ? WINDOW : 0) | (nmiWait ? NMI_WINDOW : 0)) >>> 0;
    if (next !== ctls) v.writeField(CPU_BASED, next);
    this.armed = window || nmiWait || v.readNum(TPR_THRESHOLD) !== 0 || (this.apicv && v.readNum(INTR_STATUS) !== 0);
    this.nextEvent = watch || nmiWait || this.kicked ? 0 : this.timerDeadline();
  }

  /**
   * The processor between two blocks of guest code: the host's timer interrupt (an
   * EXTERNAL_INTERRUPT exit: KVM sets PIN_BASED_EXT_INTR_MASK), an open interrupt window, the TPR
   * below the threshold, or (APICv) virtual-interrupt delivery through the guest's IDT without an
   * exit. Returns the exit to take, or null.
   */
  poll(): ExitInfo | null {
    const now = this.host.now();
    const l = this.lapic;
    // A VMM timer (QEMU's RTC) that came due: its line is raised without stopping the guest.
    const t = this.timers;
    if (t && now >= t.deadline && now < t.hostDeadline && now < l.timerDeadline) {
      t.expire(now);
      this.refresh();
    }
    if (this.kicked) {
      this.kicked = false;
      return { reason: EXIT.EXTERNAL_INTERRUPT!, qualification: 0n, intrInfo: (0x8000_0000 | RESCHEDULE_VECTOR) >>> 0 };
    }
    if (now >= l.timerDeadline || (t && now >= t.hostDeadline)) {
      return { reason: EXIT.EXTERNAL_INTERRUPT, qualification: 0n, intrInfo: (0x8000_0000 | HOST_TIMER_VECTOR) >>> 0 };
    }
    const v = this.vmcs;
    if (v.readNum(CPU_BASED) & NMI_WINDOW && this.nmiAllowed()) return { reason: EXIT.NMI_WINDOW, qualification: 0n };
    if (this.apicv && v.readNum(CPU_BASED) & WINDOW && this.interruptible()) return { reason: EXIT.PENDING_INTERRUPT, qualification: 0n };
    if (this.apicv) {
      const vec = l.pendingVector();
      if (vec >= 0 && this.interruptible()) {
        // Virtual-interrupt delivery (SDM 29.2.2): RVI → SVI, the vector through the IDT, no exit.
        l.ackInterrupt(vec);
        this.host.cpu.deliver(vec, undefined, true, undefined, INTR_TYPE.EXTERNAL);
      }
      this.refresh();
      return null;
    }
    if (v.readNum(CPU_BASED) & WINDOW && this.interruptible()) return { reason: EXIT.PENDING_INTERRUPT, qualification: 0n };
    const threshold = v.readNum(TPR_THRESHOLD);
    if (threshold > 0 && Number(this.host.cpu.state.cr8 & 0xfn) < threshold) return { reason: EXIT.TPR_BELOW_THRESHOLD, qualification: 0n };
    // Nothing the guest did without an exit changes what KVM armed: look again at the next boundary.
    return null;
  }

  /**
   * A guest access to the APIC-access page (SDM 29.4). Without APICv: an APIC_ACCESS exit (fault-like).
   * With APIC-register virtualization: reads from the virtual-APIC page (TMCCT still exits), TPR
   * writes virtualized, EOI virtualized (EOI_INDUCED for a level-triggered vector, KVM's EOI-exit
   * bitmap), other writes an APIC_WRITE exit. APIC_WRITE and EOI_INDUCED are trap-like in
   * hardware; here they are raised as the write happens and KVM's handler completes the
   * instruction (skip_emulated_instruction): the same exits, the exit's RIP the instruction's own.
   */
  apicPageAccess(offset: number, size: number, write: boolean, value: bigint): bigint {
    const reg = offset & 0xff0;
    const qual = BigInt(offset | ((write ? 1 : 0) << 12));
    if (!this.apicv || (offset & 0xf) !== 0 || size !== 4) throw new VmExitSignal({ reason: EXIT.APIC_ACCESS, qualification: qual });
    if (!write) {
      if (!VIRTUALIZED_READS.has(reg)) throw new VmExitSignal({ reason: EXIT.APIC_ACCESS, qualification: qual });
      return BigInt(this.lapic.readReg(reg));
    }
    const v = Number(value & 0xffff_ffffn);
    if (reg === TASKPRI) {
      this.lapic.writeReg(TASKPRI, v);
      this.refresh();
      return value;
    }
    if (reg === EOI) {
      // EOI virtualization (SDM 29.1.2): SVI's vector leaves the ISR; the EOI-exit bitmap (KVM sets the
      // level-triggered vectors, vmx_load_eoi_exitmap) makes it an EOI_INDUCED exit.
      const vec = this.lapic.highestIsr();
      if (vec >= 0 && this.lapic.levelTriggered(vec)) throw new VmExitSignal({ reason: EXIT.EOI_INDUCED, qualification: BigInt(vec) });
      this.lapic.eoi(false);
      this.refresh();
      return value;
    }
    this.pendingWrite = v;
    // Deferred, not thrown, when a compiled block's store made it (trap-exit.ts).
    raiseTrapExit(this.host.cpu, { reason: EXIT.APIC_WRITE, qualification: BigInt(reg) });
    return value;
  }

  /** The VM's highest APIC ID (kvm_apic_map.max_apic_id): its vCPUs are numbered 0..maxApicId. */
  maxApicId = 0;

  /**
   * KVM_HC_SEND_IPI (Linux arch/x86/kvm/lapic.c kvm_pv_send_ipi, __pv_send_ipi; since 4.19): a
   * fixed IPI of the ICR's vector to APIC IDs min + i for each bit i of the two 64-bit bitmaps
   * (the second starts at min + 64, u32 arithmetic); a bitmap whose first ID is above the highest
   * APIC ID delivers nothing. An ICR with a destination mode or shorthand is -KVM_EINVAL (-22).
   * Returns the count of interrupts delivered (the hypercall's RAX).
   */
  pvSendIpi(low: bigint, high: bigint, min: number, icr: bigint): number {
    if (icr & 0xc_0800n) return -22;
    const vector = Number(icr & 0xffn), mode = Number((icr >> 8n) & 7n);
    let count = 0;
    for (const [bitmap, first] of [[low, min >>> 0], [high, (min + 64) >>> 0]] as const) {
      if (first > this.maxApicId) continue;
      for (let i = 0; i < 64 && first + i <= this.maxApicId; i++) {
        if (!((bitmap >> BigInt(i)) & 1n)) continue;
        const id = first + i;
        if (id === this.lapic.id) this.lapic.acceptIrq(vector, false, mode);
        else this.host.onIpi?.(vector | (mode << 8), id);
        count++;
      }
    }
    this.refresh();
    return count;
  }

  /**
   * `irq N`: KVM_SIGNAL_MSI / KVM_IRQ_LINE from the VMM: vector N (16-255) to the local APIC as a
   * fixed edge interrupt; KVM delivers it at the next entry the guest can take it (APICv: the
   * processor, as a posted interrupt would be). Returns what happened; throws on a bad vector.
   */
  injectIrq(vector: number): string {
    if (!Number.isInteger(vector) || vector < 16 || vector > 255) {
      throw new ExitlabError(`irq ${vector}: an x86 interrupt vector is 16-255`, "vectors 0-31 are exceptions; e.g. irq 0x30");
    }
    const ok = this.lapic.acceptIrq(vector, false, 0);
    this.refresh();
    return ok ? `vector ${vector} pending in the local APIC's IRR` : `vector ${vector} dropped: the guest has not software-enabled its local APIC (SVR bit 8)`;
  }
}

const ENTRY_INTR = lookup("VM_ENTRY_INTR_INFO_FIELD");
const CPU_BASED = lookup("CPU_BASED_VM_EXEC_CONTROL");
const TPR_THRESHOLD = lookup("TPR_THRESHOLD");
const INTR_STATUS = lookup("GUEST_INTR_STATUS");
const WINDOW = ctl("CPU_BASED_VIRTUAL_INTR_PENDING");
const SECONDARY = lookup("SECONDARY_VM_EXEC_CONTROL");
const VIRT_X2APIC = ctl("SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE");
const NMI_WINDOW = ctl("CPU_BASED_VIRTUAL_NMI_PENDING");

function lookup(name: string) {
  return lookupField(name).field;
}
