// The local APIC of one vCPU as KVM emulates it in the kernel (Linux arch/x86/kvm/lapic.c, v4.1 and
// today): the register page (the same 4 KiB layout the virtual-APIC page has, so APICv reads it
// as hardware would), IRR/ISR/TMR, TPR/PPR, EOI, the ICR with its delivery status, the LVT and the
// timer in its three modes (SDM Vol. 3 11.5.4: one-shot, periodic, TSC-deadline). Registers and
// layouts: registers.ts. Time: the machine's modelled cycles at 1 GHz; the TSC counts cycles, and
// the APIC timer counts a 1 GHz bus clock divided by TDCR (KVM's APIC_BUS_CYCLE_NS = 1).

import type { X86TracepointName } from "../tracepoints.js";
import type { FieldValue, KvmEra } from "../../core/trace.js";
import type { MmioDevice } from "../../core/bus.js";
import {
  APIC_BASE_MSR, APIC_DEFAULT_BASE, APIC_VERSION, LVT_MASKED, SPIV_APIC_ENABLED, TIMER_MODE, apicOffset, timerDivisor,
} from "./registers.js";

const ID = apicOffset("ID"), LVR = apicOffset("LVR"), TASKPRI = apicOffset("TASKPRI"), PROCPRI = apicOffset("PROCPRI");
const EOI = apicOffset("EOI"), LDR = apicOffset("LDR"), DFR = apicOffset("DFR"), SPIV = apicOffset("SPIV");
const ISR = apicOffset("ISR"), TMR = apicOffset("TMR"), IRR = apicOffset("IRR"), ESR = apicOffset("ESR");
const ICR = apicOffset("ICR"), ICR2 = apicOffset("ICR2"), LVTT = apicOffset("LVTT"), LVT0 = apicOffset("LVT0");
const LVTERR = apicOffset("LVTERR"), TMICT = apicOffset("TMICT"), TMCCT = apicOffset("TMCCT"), TDCR = apicOffset("TDCR");
const SELF_IPI = apicOffset("SELF_IPI"), ARBPRI = apicOffset("ARBPRI"), LVTCMCI = apicOffset("LVTCMCI");
const LVT_OFFSETS = [apicOffset("LVTT"), apicOffset("LVTTHMR"), apicOffset("LVTPC"), LVT0, apicOffset("LVT1"), LVTERR, LVTCMCI];

/** What the APIC tells its owner: trace events (kvm_apic_accept_irq, kvm_eoi, kvm_apic_ipi) and IPIs for other vCPUs. */
export interface LapicHost {
  /** Modelled cycles now (1 GHz). */
  now(): number;
  /** The guest's TSC offset (TSC = cycles + offset). */
  tscOffset(): number;
  /** The vCPU's CR8 (the TPR's bits 7:4 live there with a TPR shadow). */
  cr8: { get(): number; set(v: number): void };
  emit(name: X86TracepointName, fields: Record<string, FieldValue>): void;
  /** An EOI retired `vector` (the IOAPIC's level-triggered lines listen). */
  onEoi?(vector: number): void;
  /** An IPI for other vCPUs (INIT, SIPI, fixed to another APIC ID): the SMP scheduler's. */
  onIpi?(icrLow: number, dest: number): void;
  /** The KVM modelled (where the APIC's behaviour changed across versions); today when unset. */
  era?(): KvmEra;
}

export class LocalApic implements MmioDevice {
  readonly name = "local APIC (in-kernel)";
  /** In KVM, not in the VMM: an access is an exit handled in the kernel, never KVM_EXIT_MMIO. */
  readonly inKernel = true;
  /** The register page, 32-bit words by offset / 4 (as KVM's apic->regs and the virtual-APIC page). */
  readonly regs = new Uint32Array(1024);
  /** IA32_APIC_BASE bits 31:0: base address bits 31:12, EN, EXTD, BSP. */
  base = APIC_DEFAULT_BASE | APIC_BASE_MSR.EN | APIC_BASE_MSR.BSP;
  /** IA32_APIC_BASE bits 63:32 (base address bits above 31; 0 unless the guest moved the page above 4 GiB). */
  baseHigh = 0;
  /** The MSR's value. */
  get baseMsr(): bigint {
    return (BigInt(this.baseHigh) << 32n) | BigInt(this.base >>> 0);
  }
  /** Where the xAPIC registers are (apic->base_address), when hardware-enabled in xAPIC mode; else -1 (apic_mmio_in_range claims nothing). */
  get baseAddress(): number {
    if (!this.hwEnabled || this.x2apic) return -1;
    return this.baseHigh * 2 ** 32 + ((this.base & ~0xfff) >>> 0);
  }
  /** An NMI waiting for injection (ICR NMI, LINT1 NMI, `irq nmi`). */
  nmiPending = false;
  /** Cycle at which the timer fires next (Infinity: disarmed). */
  timerDeadline = Infinity;
  /** Cycles of one period (periodic mode) or of the one-shot count. */
  private timerPeriod = 0;
  /** IA32_TSC_DEADLINE as the guest wrote it (0: disarmed). */
  tscDeadline = 0n;
  /** Interrupts accepted and timer expiries, for `show apic`. */
  readonly counts = { accepted: 0, eoi: 0, ipi: 0, timer: 0 };

  constructor(readonly id: number, private readonly host: LapicHost) {
    this.reset();
  }

  /** kvm_lapic_reset: LVTs masked, SVR 0xff (software-disabled), DFR flat, ID in bits 31:24. */
  reset(): void {
    this.regs.fill(0);
    this.irrPending = false;
    this.set(ID, this.id << 24);
    this.set(LVR, APIC_VERSION);
    for (const o of LVT_OFFSETS) this.set(o, LVT_MASKED);
    this.set(DFR, 0xffff_ffff);
    this.set(SPIV, 0xff);
    this.timerDeadline = Infinity;
    this.tscDeadline = 0n;
  }

  /**
   * LVT0 in ExtINT mode, unmasked (0x700): the BSP's LINT0 as QEMU resets it (hw/intc/apic_common.c
   * apic_reset_common) and KVM_SET_LAPIC hands it to KVM, so the PIC's INTR reaches the vCPU.
   */
  lint0ExtInt(): void {
    this.set(LVT0, 0x700);
  }

  private get(offset: number): number {
    return this.regs[offset >> 2]!;
  }
  private set(offset: number, v: number): void {
    this.regs[offset >> 2] = v >>> 0;
  }

  /** x2APIC mode (IA32_APIC_BASE.EXTD). */
  get x2apic(): boolean {
    return (this.base & APIC_BASE_MSR.EXTD) !== 0;
  }
  /** Globally enabled (IA32_APIC_BASE.EN). */
  get hwEnabled(): boolean {
    return (this.base & APIC_BASE_MSR.EN) !== 0;
  }
  /**
   * kvm_apic_accept_pic_intr: whether the legacy PIC's INTR reaches this vCPU — LINT0 unmasked in
   * ExtINT mode (SDM Vol. 3 11.5.1, Figure 11-8), or the APIC globally disabled (the processor's
   * INTR pin is then wired straight to the PIC).
   */
  acceptsPicIntr(): boolean {
    const lvt0 = this.get(LVT0);
    return !this.hwEnabled || ((lvt0 & LVT_MASKED) === 0 && ((lvt0 >> 8) & 7) === 7);
  }

  /** Globally (IA32_APIC_BASE.EN) and software (SVR bit 8) enabled. */
  get enabled(): boolean {
    return (this.base & APIC_BASE_MSR.EN) !== 0 && (this.get(SPIV) & SPIV_APIC_ENABLED) !== 0;
  }

  // ---- the 256-bit vectors (IRR, ISR, TMR): eight words 16 bytes apart ----

  private bit(reg: number, v: number): boolean {
    return ((this.get(reg + 16 * (v >> 5)) >>> (v & 31)) & 1) === 1;
  }
  private setBit(reg: number, v: number, on: boolean): void {
    const o = reg + 16 * (v >> 5);
    const w = this.get(o);
    this.set(o, on ? w | (1 << (v & 31)) : w & ~(1 << (v & 31)));
  }
  private highest(reg: number): number {
    for (let i = 7; i >= 0; i--) {
      const w = this.get(reg + 16 * i);
      if (w !== 0) return 32 * i + 31 - Math.clz32(w);
    }
    return -1;
  }

  /**
   * Whether IRR may have a bit set (KVM's apic->irr_pending): set when a vector is requested,
   * cleared when a search finds none, so the common VM entry with nothing pending reads no IRR word.
   */
  private irrPending = false;

  /** The highest requested vector, or -1 (apic_find_highest_irr, with its irr_pending shortcut). */
  highestIrr(): number {
    if (!this.irrPending) return -1;
    const v = this.highest(IRR);
    if (v < 0) this.irrPending = false;
    return v;
  }
  /** The highest in-service vector, or -1 (apic_find_highest_isr). */
  highestIsr(): number {
    return this.highest(ISR);
  }
  /** TPR: CR8 in bits 7:4 (SDM Vol. 3 11.8.6). */
  tpr(): number {
    return (this.host.cr8.get() & 0xf) << 4;
  }
  /** PPR (SDM Vol. 3 11.8.3.1; apic_update_ppr): TPR, or the class of the highest in-service vector if higher. */
  ppr(): number {
    const tpr = this.tpr();
    const isr = this.highestIsr();
    const isrClass = isr < 0 ? 0 : isr & 0xf0;
    return (tpr & 0xf0) >= isrClass ? tpr : isrClass;
  }
  /** The vector the APIC would deliver now (apic_has_interrupt_for_ppr), or -1: the highest IRR above PPR's class. */
  pendingVector(): number {
    if (!this.enabled) return -1;
    const irr = this.highestIrr();
    return irr >= 0 && (irr & 0xf0) > (this.ppr() & 0xf0) ? irr : -1;
  }

  /**
   * __apic_accept_irq for a fixed interrupt: IRR (and TMR for level) set, traced as
   * kvm_apic_accept_irq. Returns false when the APIC is software-disabled (the interrupt is lost).
   */
  acceptIrq(vector: number, level = false, mode = 0): boolean {
    this.host.emit("kvm_apic_accept_irq", { apicid: this.id, dm: mode << 8, tm: level, vec: vector });
    if (mode === 4) {
      this.nmiPending = true;
      return true;
    }
    // INIT and SIPI act on the vCPU, not on the APIC's registers (kvm_apic_accept_events: vcpu-state.ts).
    if (mode === 5 || mode === 6) return true;
    if (!this.enabled || vector < 16) return false;
    this.setBit(IRR, vector, true);
    this.irrPending = true;
    this.setBit(TMR, vector, level);
    this.counts.accepted++;
    return true;
  }

  /** kvm_get_apic_interrupt: the CPU takes `vector`: IRR → ISR. */
  ackInterrupt(vector: number): void {
    this.setBit(IRR, vector, false);
    this.setBit(ISR, vector, true);
  }

  /**
   * apic_set_eoi: retire the highest in-service vector (kvm_eoi); -1 if none was in service.
   * `traced` false: the processor's EOI virtualization (APICv), which KVM never sees.
   */
  eoi(traced = true): number {
    const v = this.highestIsr();
    if (v < 0) return -1;
    this.setBit(ISR, v, false);
    this.counts.eoi++;
    if (traced) this.host.emit("kvm_eoi", { apicid: this.id, vector: v });
    if (this.bit(TMR, v)) this.host.onEoi?.(v);
    return v;
  }

  /** Whether `vector` is level-triggered (TMR): its EOI must reach the IOAPIC (APICv's EOI-exit bitmap). */
  levelTriggered(vector: number): boolean {
    return this.bit(TMR, vector);
  }

  // ---- registers ----

  /** Read a register (apic_reg_read / kvm_lapic_reg_read); 0 for reserved offsets and write-only ones. */
  read(offset: number, _size = 4): bigint {
    // apic_mmio_in_range: a disabled APIC or one in x2APIC mode is not at 0xfee00000 (reads all ones).
    if (!this.hwEnabled || this.x2apic) return 0xffff_ffffn;
    const v = this.readReg(offset & 0xff0);
    this.host.emit("kvm_apic", { rw: 0, reg: offset & 0xff0, val: v });
    return BigInt(v);
  }

  readReg(offset: number): number {
    switch (offset) {
      case ID:
        return this.x2apic ? this.id : this.get(ID);
      case TASKPRI:
        return this.tpr();
      case PROCPRI:
        return this.ppr();
      case ARBPRI:
        return 0;
      case EOI:
      case SELF_IPI:
        return 0;
      case LDR:
        return this.x2apic ? (((this.id >> 4) << 16) | (1 << (this.id & 0xf))) >>> 0 : this.get(LDR);
      case TMCCT:
        return this.timerCurrentCount();
      case ICR:
        // KVM delivers an IPI while handling the write: the delivery status always reads idle.
        return this.get(ICR) & ~(1 << 12);
      default:
        return this.get(offset);
    }
  }

  write(offset: number, _size: number, value: bigint): void {
    if (!this.hwEnabled || this.x2apic) return;
    const v = Number(value & 0xffff_ffffn);
    this.host.emit("kvm_apic", { rw: 1, reg: offset & 0xff0, val: v });
    this.writeReg(offset & 0xff0, v);
  }

  /** Write a register (kvm_lapic_reg_write): side effects of EOI, ICR, SVR, the LVT and the timer. */
  writeReg(offset: number, v: number): void {
    switch (offset) {
      case ID:
        if (!this.x2apic) this.set(ID, v & 0xff00_0000);
        return;
      case TASKPRI:
        this.host.cr8.set((v >> 4) & 0xf);
        this.set(TASKPRI, v & 0xff);
        return;
      case EOI:
        this.eoi();
        return;
      case LDR:
        if (!this.x2apic) this.set(LDR, v & 0xff00_0000);
        return;
      case DFR:
        if (!this.x2apic) this.set(DFR, v | 0x0fff_ffff);
        return;
      case SPIV: {
        this.set(SPIV, v & 0x3ff);
        // Software-disabling masks every LVT entry (SDM 11.4.7.2).
        if (!(v & SPIV_APIC_ENABLED)) for (const o of LVT_OFFSETS) this.set(o, this.get(o) | LVT_MASKED);
        return;
      }
      case ESR:
        this.set(ESR, 0);
        return;
      case ICR:
        this.set(ICR, v & ~(1 << 12));
        this.sendIpi(v, this.x2apic ? this.get(ICR2) : this.get(ICR2) >>> 24);
        return;
      case ICR2:
        if (!this.x2apic) this.set(ICR2, v & 0xff00_0000);
        return;
      case LVTT: {
        const before = (this.get(LVTT) >> 17) & 3;
        const masked = this.enabled ? 0 : LVT_MASKED;
        this.set(LVTT, (v & 0x7_10ff) | masked);
        // apic_update_lvtt: v4.1 stops the timer on any mode change; today only a change into or
        // out of TSC-deadline mode does (and clears TMICT), one-shot <-> periodic keeps counting
        // down from where it was (Linux commit dedf9c5e2169, "thoroughly disarm LAPIC timer around
        // TSC deadline switch", and the mode-change rework before it).
        const after = (v >> 17) & 3;
        if (after !== before && this.host.era?.() === "2015") this.disarm();
        else if ((after === TIMER_MODE.TSC_DEADLINE) !== (before === TIMER_MODE.TSC_DEADLINE)) {
          this.disarm();
          this.set(TMICT, 0);
          this.timerPeriod = 0;
        }
        return;
      }
      case TMICT:
        if (this.timerMode() === TIMER_MODE.TSC_DEADLINE) return;
        this.set(TMICT, v);
        this.startCount();
        return;
      case TDCR:
        this.set(TDCR, v & 0xb);
        return;
      case SELF_IPI:
        if (this.x2apic) this.sendIpi((v & 0xff) | (1 << 18), 0);
        return;
      default:
        if (LVT_OFFSETS.includes(offset)) {
          this.set(offset, (v & 0x1_a7ff) | (this.enabled ? 0 : LVT_MASKED));
          return;
        }
      // Read-only or reserved: ignored (KVM sets ESR "illegal register address" only for a few).
    }
  }

  /** x2APIC ICR (MSR 0x830): both halves in one write. */
  writeIcr64(value: bigint): void {
    this.set(ICR2, Number(value >> 32n));
    this.writeReg(ICR, Number(value & 0xffff_ffffn));
  }

  /**
   * apic_send_ipi → kvm_irq_delivery_to_apic: trace kvm_apic_ipi, then deliver to the APICs the
   * shorthand and destination name. Here only this vCPU exists unless the owner takes IPIs for
   * others (onIpi).
   */
  private sendIpi(low: number, dest: number): void {
    this.counts.ipi++;
    this.host.emit("kvm_apic_ipi", { icr_low: low >>> 0, dest_id: dest >>> 0 });
    const vector = low & 0xff, mode = (low >> 8) & 7, shorthand = (low >> 18) & 3, logical = (low >> 11) & 1;
    const level = ((low >> 15) & 1) === 1;
    const broadcast = this.x2apic ? 0xffff_ffff : 0xff;
    const toSelf = shorthand === 1 || shorthand === 2 || (shorthand === 0 && (logical ? (dest & this.logicalId()) !== 0 : dest === this.physicalId || dest === broadcast));
    // Another APIC may answer to the same physical ID (xAPIC IDs the guest wrote alike): the router checks each.
    const toOthers = shorthand >= 2 || shorthand === 0;
    if (toSelf && (mode === 0 || mode === 1 || mode === 4)) this.acceptIrq(vector, level, mode);
    if (toOthers) this.host.onIpi?.(low, dest);
  }

  /**
   * The ID a physical destination matches (kvm_apic_match_physical_addr): the x2APIC ID in x2APIC
   * mode, else the xAPIC ID register's bits 31:24, which the guest may have rewritten (several
   * APICs may then share one: each accepts the IPI, as KVM's slow path delivers to every match).
   */
  get physicalId(): number {
    return this.x2apic ? this.id : this.get(ID) >>> 24;
  }

  private logicalId(): number {
    return this.x2apic ? 1 << (this.id & 0xf) : this.get(LDR) >>> 24;
  }

  // ---- timer ----

  timerMode(): number {
    return (this.get(LVTT) >> 17) & 3;
  }

  private disarm(): void {
    this.timerDeadline = Infinity;
    this.tscDeadline = 0n;
  }

  /** start_apic_timer (one-shot, periodic): TMICT × divisor bus cycles from now; 0 stops the timer. */
  private startCount(): void {
    const count = this.get(TMICT);
    if (count === 0) {
      this.timerDeadline = Infinity;
      return;
    }
    this.timerPeriod = count * timerDivisor(this.get(TDCR));
    this.timerDeadline = this.host.now() + this.timerPeriod;
  }

  private timerCurrentCount(): number {
    if (this.timerMode() === TIMER_MODE.TSC_DEADLINE || this.timerDeadline === Infinity) return 0;
    const left = this.timerDeadline - this.host.now();
    return left <= 0 ? 0 : Math.ceil(left / timerDivisor(this.get(TDCR))) >>> 0;
  }

  /** kvm_set_lapic_tscdeadline_msr: ignored unless the LVTT is in TSC-deadline mode; 0 disarms. */
  setTscDeadline(value: bigint): void {
    if (this.timerMode() !== TIMER_MODE.TSC_DEADLINE) return;
    this.tscDeadline = value;
    if (value === 0n) {
      this.timerDeadline = Infinity;
      return;
    }
    // The deadline in cycles: TSC = cycles + TSC_OFFSET; a deadline already passed fires at once.
    this.timerDeadline = Math.max(this.host.now(), Number(value) - this.host.tscOffset());
  }

  /**
   * The host's hrtimer callback (apic_timer_fn → kvm_apic_local_deliver(APIC_LVTT)): the timer
   * vector is accepted unless the LVTT is masked; periodic mode re-arms, the others disarm.
   */
  fireTimer(): void {
    const lvtt = this.get(LVTT);
    this.counts.timer++;
    if (this.timerMode() === TIMER_MODE.PERIODIC && this.timerPeriod > 0) this.timerDeadline += this.timerPeriod;
    else this.disarm();
    if (!(lvtt & LVT_MASKED)) this.acceptIrq(lvtt & 0xff, false, 0);
  }

  /**
   * IA32_APIC_BASE write (kvm_lapic_set_base): EN, EXTD and the page the xAPIC registers are at
   * (bits MAXPHYADDR-1:12, SDM Vol. 3 11.4.4 Figure 11-5; apic->base_address), `value` the MSR's
   * value (below 2^52, checked by the caller); BSP stays as it is.
   */
  setBase(value: number): void {
    const wasX2 = this.x2apic;
    const wasEnabled = this.hwEnabled;
    const low = value % 4096;
    this.baseHigh = Math.floor(value / 2 ** 32);
    this.base = ((this.base & APIC_BASE_MSR.BSP) | (low & (APIC_BASE_MSR.EN | APIC_BASE_MSR.EXTD)) | ((value % 2 ** 32) - low)) >>> 0;
    // Disabling resets the APIC (SDM 11.4.3: as after power-up, but the ID and the base MSR).
    if (wasEnabled && !this.hwEnabled) this.reset();
    if (this.x2apic && !wasX2) this.set(LDR, (((this.id >> 4) << 16) | (1 << (this.id & 0xf))) >>> 0);
  }
}
