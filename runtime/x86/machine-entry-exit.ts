// VM entry and VM exit of the x86-64 machine (X86Machine's first layer; machine.ts): entry loads
// the guest state from the VMCS (or keeps it when the exit saved it unchanged) and delivers an
// injected event; exit writes the exit information and guest state into the VMCS (SDM 27.2, 27.3),
// records the exit's columns in the exit store and emits kvm_exit / kvm_entry.
import type { FieldValue, TraceEmitter } from "../core/trace.js";
import { VmBase } from "../core/vm-base.js";
import { CR0_TRANSLATION_BITS, CR4_TRANSLATION_BITS } from "./paging.js";
import type { X86Cpu } from "./cpu.js";
import { VmExitSignal, type ExitInfo } from "./state.js";
import type { X86State } from "./env.js";
import { lookupField, type Vmcs } from "./vmx/fields.js";
import type { ExitRules } from "./vmx/controls.js";
import { ctl } from "./vmx/controls.js";
import { EXIT, exitReason } from "./vmx/reasons.js";
import { INTR_INFO, encodeQual, INTR_TYPE, ERROR_CODE_VECTORS } from "./vmx/qualification.js";
import { CRS_LOADED_TRANSLATIONS_CHANGED, CRS_NOT_LOADED, enterControlRegisters, enterUnchanged, guestStateInStep, loadGuestState, saveGuestState } from "./vmx/guest-state.js";
import type { KvmVcpu } from "./kvm/vcpu.js";
import type { KvmIrqChip } from "./kvm/irqchip.js";
import { exitCost } from "./cost.js";
import type { ExitStore } from "../core/exits.js";
import { CHUNK_MASK, putU64, setU64, type ColumnArray } from "../core/columns.js";
import { F_GLA, F_GPA, F_INSN, F_SMP } from "./exit-schema.js";
import type { X86TracepointName } from "./tracepoints.js";
import { KVM_EXIT } from "../core/kvm-events.js";
import type { VcpuScheduler } from "../core/vcpus.js";
import type { X86Vcpu } from "./vcpu-state.js";

/** The VM-exit information fields (SDM 24.9), resolved once. */
export const EXIT_INFO = {
  reason: lookupField("VM_EXIT_REASON").field,
  qualification: lookupField("EXIT_QUALIFICATION").field,
  gpa: lookupField("GUEST_PHYSICAL_ADDRESS").field,
  gla: lookupField("GUEST_LINEAR_ADDRESS").field,
  length: lookupField("VM_EXIT_INSTRUCTION_LEN").field,
  intrInfo: lookupField("VM_EXIT_INTR_INFO").field,
  intrError: lookupField("VM_EXIT_INTR_ERROR_CODE").field,
  idtVectoring: lookupField("IDT_VECTORING_INFO_FIELD").field,
  entryIntrInfo: lookupField("VM_ENTRY_INTR_INFO_FIELD").field,
};

const SECONDARY = lookupField("SECONDARY_VM_EXEC_CONTROL").field;
const APIC_ACCESS = lookupField("APIC_ACCESS_ADDR").field;
const VIRT_APIC_ACCESSES = ctl("SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES");

/** The cost of an exit by basic exit reason (x86 KVM adds nothing while handling). */
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** rip for a trace field: the register file's number when exact (X86Regs.pc), else the BigInt. */
function ripValue(s: X86State): number | bigint {
  const pc = (s as { pc?: number }).pc;
  return pc !== undefined && pc >= 0 ? pc : s.rip;
}

/** Cycles of each basic exit reason's cost (exitCost), looked up once: NaN until then (the SDM's reasons are below 128). */
const BASE_CYCLES = new Float64Array(128).fill(NaN);
function baseCycles(code: number): number {
  const c = BASE_CYCLES[code];
  if (c !== undefined && c === c) return c;
  const cycles = exitCost(exitReason(code).name).cycles;
  if (c !== undefined) BASE_CYCLES[code] = cycles;
  return cycles;
}

/** X86Machine's VM entry/exit layer (machine.ts): the loaded vCPU's state and the exit record. */
export abstract class X86MachineEntryExit extends VmBase<X86TracepointName> {
  /** The loaded vCPU's VMCS, exit rules, CPU and KVM state (vcpus[sched.current]; vcpu-state.ts). */
  vmcs!: Vmcs;
  rules!: ExitRules;
  cpu!: X86Cpu;
  kvm!: KvmVcpu;
  /** The loaded vCPU's in-kernel irqchip: its local APIC (0xfee00000), the VM's I/O APIC (0xfec00000), interrupt injection. */
  irq!: KvmIrqChip;
  /** The loaded vCPU. */
  vcpu!: X86Vcpu;
  abstract override readonly exits: ExitStore;
  abstract readonly sched: VcpuScheduler;
  /** Column numbers of the arch's exit columns (X86_EXIT_SCHEMA.columns) by name. */
  protected exitCols!: Record<"qual" | "gpa" | "gla" | "len" | "intr" | "idtv" | "msr" | "msrval" | "insn" | "vcpu", number>;

  /** VM entry: load guest state from the VMCS, then deliver an injected event (which may exit again). */
  protected enter(): void {
    const s = this.cpu.state;
    const q = this.kvm.queued;
    this.kvm.queued = null;
    if (q) {
      // kvm_multiple_exception (v4.1 and today): no error code in real mode (!is_protmode).
      const hasCode = ERROR_CODE_VECTORS.has(q.vector) && (this.kvm.arch.cr0 & 1n) !== 0n;
      this.vmcs.write("VM_ENTRY_INTR_INFO_FIELD", encodeQual(INTR_INFO, { vector: q.vector, type: INTR_TYPE.HW_EXCEPTION, error_code_valid: hasCode ? 1 : 0, valid: 1 }));
      this.vmcs.write("VM_ENTRY_EXCEPTION_ERROR_CODE", q.errorCode ?? 0);
      this.emit("kvm_inj_exception", { exception: q.vector, has_error: hasCode, error_code: q.errorCode ?? 0, reinjected: false });
    }
    // Load the guest state — unless it is what the exit saved (KVM at most moved RIP past the
    // instruction): then the load would change nothing else, and translations stay valid. When KVM
    // changed only CR0/CR3/CR4 (its MOV-to-CR handlers), just they are loaded.
    if (!enterUnchanged(this.vmcs, s, this.cpu.systemVersion)) {
      const crs = enterControlRegisters(this.vmcs, s, this.cpu.systemVersion, CR0_TRANSLATION_BITS, CR4_TRANSLATION_BITS);
      if (crs !== CRS_NOT_LOADED) {
        // A translation bit or CR3 changed: the TLB goes. Else the caches stand (no fast data entry
        // depends on CR0.WP: X86Cpu.translateLinear), as after the guest's own MOV to CR0/CR4 of such bits.
        if (crs === CRS_LOADED_TRANSLATIONS_CHANGED) this.cpu.flushTlb();
        else this.cpu.systemVersion++;
        guestStateInStep(this.vmcs, this.cpu.systemVersion);
      } else {
        const before = translationKey(s);
        const err = loadGuestState(this.vmcs, s, s.efer);
        if (err) {
          this.failedEntry();
          this.halted = { message: `VM entry failed (invalid guest state): ${err}; KVM_RUN returns KVM_EXIT_FAIL_ENTRY` };
          return;
        }
        // Translations depend on CR0/CR3/CR4/EFER and CS; keep the TLB and decoded code if KVM left them alone.
        if (translationKey(s) !== before) this.cpu.flushTlb();
        else this.cpu.invalidateFetch(); // segment bases the caches hold may have changed
      }
    }
    // inject_pending_event: an NMI or the APIC's interrupt, unless an exception is injected already.
    if (!q) this.irq.beforeEntry();
    this.cpu.apicAccessPage = this.vmcs.readNum(SECONDARY) & VIRT_APIC_ACCESSES ? this.vmcs.readNum(APIC_ACCESS) : -1;
    this.entryFields.rip = ripValue(s);
    this.emitEntry(this.steps, this.stamp(), this.entryFields);
    const inj = this.vmcs.readNum(EXIT_INFO.entryIntrInfo);
    if (inj >>> 31) {
      this.vmcs.write("VM_ENTRY_INTR_INFO_FIELD", 0);
      const vector = inj & 0xff;
      const type = (inj >> 8) & 7;
      // Software interrupts/exceptions return past the instruction: RIP + VM_ENTRY_INSTRUCTION_LEN (SDM 26.6.1).
      const soft = type === INTR_TYPE.SW_INTERRUPT || type === INTR_TYPE.PRIV_SW_EXCEPTION || type === INTR_TYPE.SW_EXCEPTION;
      const returnRip = soft ? s.rip + this.vmcs.read("VM_ENTRY_INSTRUCTION_LEN") : undefined;
      try {
        this.cpu.deliver(vector, (inj >> 11) & 1 ? Number(this.vmcs.read("VM_ENTRY_EXCEPTION_ERROR_CODE")) : undefined, true, q?.address, type, returnRip);
      } catch (e) {
        if (e instanceof VmExitSignal) this.vmExit(e.info);
        else throw e;
      }
    }
  }

  /**
   * A VM entry that fails its guest-state checks (SDM 26.3.1) ends like a VM exit with basic
   * reason 33 (INVALID_STATE) and bit 31 set, exit qualification 0, the other exit-information
   * fields unchanged (SDM 26.8). KVM traces the exit and returns KVM_EXIT_FAIL_ENTRY (9) from
   * KVM_RUN (v4.1 and today's vmx_handle_exit); kvm_vcpu_ioctl traces kvm_userspace_exit.
   */
  private failedEntry(): void {
    const reason = 0x8000_0000 | EXIT.INVALID_STATE!;
    this.vmcs.writeField(EXIT_INFO.reason, reason);
    this.vmcs.writeField(EXIT_INFO.qualification, 0);
    const rip = this.vmcs.read("GUEST_RIP");
    this.entryFields.rip = rip <= MAX_SAFE ? Number(rip) : rip;
    this.emitEntry(this.steps, this.stamp(), this.entryFields);
    const f = this.exitFields;
    f.exit_reason = reason;
    f.guest_rip = this.entryFields.rip;
    f.info1 = 0;
    f.intr_info = this.vmcs.readNum(EXIT_INFO.intrInfo);
    f.idt_vectoring_info = this.vmcs.readNum(EXIT_INFO.idtVectoring);
    f.intr_error_code = this.vmcs.readNum(EXIT_INFO.intrError);
    this.emitExit(this.steps, this.stamp(), f);
    this.emit("kvm_userspace_exit", { reason: KVM_EXIT.FAIL_ENTRY!, errno: 0 });
  }

  /** The processor's side of a VM exit: exit information and guest state into the VMCS (SDM 27.2, 27.3). */
  protected vmExit(info: ExitInfo): void {
    const s = this.cpu.state;
    const v = this.vmcs;
    const code = info.reason;
    const insn = this.cpu.insn;
    const len = insn?.length ?? 0;
    const q = info.qualification;
    const intrInfo = info.intrInfo ?? 0;
    v.writeExitInfo(code, q, info.guestPhysical ?? 0, info.guestLinear ?? 0, len, intrInfo, info.intrError ?? 0, info.idtVectoring ?? 0);
    if (info.instrInfo !== undefined) v.write("VMX_INSTRUCTION_INFO", info.instrInfo);
    saveGuestState(v, s, this.cpu.systemVersion);
    // The exit's columns: the VM-exit information as numbers; decoded and formatted when shown.
    let flags = this.sched.count > 1 ? F_SMP : 0;
    if (info.guestPhysical !== undefined) flags |= F_GPA;
    if (info.guestLinear !== undefined) flags |= F_GLA;
    if (insn) flags |= F_INSN;
    const cycles = baseCycles(code);
    const store = this.exits;
    // rip from the register file's sign-extended number: its two's-complement halves.
    const pc = s.pc;
    const index = store.record(this.steps, pc >>> 0, Math.floor(pc / 4294967296) >>> 0, code, cycles, flags);
    const slot = index & CHUNK_MASK;
    const k = this.col;
    const c = store.chunk(index);
    if (k.chunk !== c) this.bindColumns(c);
    putU64(k.qual, slot, q);
    k.gpa[slot] = info.guestPhysical ?? 0;
    putU64(k.gla, slot, info.guestLinear ?? 0);
    k.len[slot] = len;
    k.intr[slot] = intrInfo;
    k.idtv[slot] = info.idtVectoring ?? 0;
    if (code === EXIT.MSR_READ || code === EXIT.MSR_WRITE) {
      // ECX, and EDX:EAX for WRMSR, from the register halves (no BigInt per exit).
      k.msr[slot] = s.r[1]! >>> 0;
      if (code === EXIT.MSR_WRITE) setU64(k.msrval, slot, s.r[0]! >>> 0, s.r[2]! >>> 0);
      else setU64(k.msrval, slot, 0, 0);
    } else {
      k.msr[slot] = 0;
      setU64(k.msrval, slot, 0, 0);
    }
    k.insn[slot] = store.refId(insn);
    k.vcpu[slot] = this.vcpu.id;
    this.vcpu.exits++;
    // kvm_exit's fields, written into one reused record (the trace copies them into its columns).
    const f = this.exitFields;
    f.exit_reason = code;
    f.guest_rip = pc >= 0 ? pc : s.rip;
    f.info1 = typeof q === "number" || q > MAX_SAFE ? q : Number(q);
    // What vmx_get_exit_info reads; the era's format picks info2 from them (tracepoints.ts).
    f.intr_info = intrInfo;
    f.idt_vectoring_info = info.idtVectoring ?? 0;
    f.intr_error_code = info.intrError ?? 0;
    this.emitExit(this.steps, this.stamp(), f);
    this.cycles += cycles;
    this.pendingIndex = index;
  }

  /** The exit columns of the chunk vmExit last wrote (X86_EXIT_SCHEMA.columns), typed once per chunk. */
  private readonly col = {
    chunk: null as unknown,
    qual: new Uint32Array(0), gpa: new Float64Array(0), gla: new Uint32Array(0), len: new Uint8Array(0),
    intr: new Uint32Array(0), idtv: new Uint32Array(0), msr: new Uint32Array(0), msrval: new Uint32Array(0), insn: new Uint32Array(0), vcpu: new Uint32Array(0),
  };

  private bindColumns(c: ColumnArray[]): void {
    const k = this.col, j = this.exitCols;
    k.chunk = c;
    k.qual = c[j.qual] as Uint32Array;
    k.gpa = c[j.gpa] as Float64Array;
    k.gla = c[j.gla] as Uint32Array;
    k.len = c[j.len] as Uint8Array;
    k.intr = c[j.intr] as Uint32Array;
    k.idtv = c[j.idtv] as Uint32Array;
    k.msr = c[j.msr] as Uint32Array;
    k.msrval = c[j.msrval] as Uint32Array;
    k.insn = c[j.insn] as Uint32Array;
    k.vcpu = c[j.vcpu] as Uint32Array;
  }

  /** The kvm_exit and kvm_entry emitters (trace.emitterOf): every exit emits both. */
  protected emitExit!: TraceEmitter;
  protected emitEntry!: TraceEmitter;
  /** kvm_exit's and kvm_entry's field records, reused by every exit and entry. */
  protected readonly exitFields: Record<string, FieldValue> = { exit_reason: 0, guest_rip: 0, isa: 1, info1: 0, intr_info: 0, idt_vectoring_info: 0, intr_error_code: 0, vcpu_id: 0 };
  protected readonly entryFields: Record<string, FieldValue> = { vcpu_id: 0, rip: 0 };
}

/** What translations and decoded code depend on (paging.ts CR0/CR4_TRANSLATION_BITS, CR3, EFER, CS). */
function translationKey(s: X86State): string {
  return `${s.cr0 & CR0_TRANSLATION_BITS}:${s.cr3}:${s.cr4 & CR4_TRANSLATION_BITS}:${s.efer}:${s.seg.cs.base}:${s.seg.cs.attributes}:${s.mode}`;
}
