// The guest CPU in VMX non-root operation: implements X86Env for the instruction semantics.
// Every access goes segmentation → guest paging → EPT (when enabled) → RAM; every sensitive
// instruction first asks the VMX controls (ExitRules) whether it exits (Intel SDM Vol. 3 25.1);
// a trapped instruction throws a VmExitSignal before changing architectural state. Guest exceptions
// are delivered through the guest IDT unless the exception bitmap turns them into exits; a fault
// while delivering becomes #DF, and a fault while delivering #DF is a triple fault (an exit).

import type { GuestMemory } from "../core/memory.js";
import type { MmioBus } from "../core/bus.js";
import type { X86Env, X86MemAccess, X86Seg, X86State } from "./env.js";
import type { X86Insn, X86Operand } from "./isa/types.js";
import { AR, CR0, CR4, EFER, GuestFault, MSR_EFER, VmExitSignal, modeOf, type ExitInfo } from "./state.js";
import { CR0_TRANSLATION_BITS, CR4_TRANSLATION_BITS, supervisorChecksUser, walk, type EntryPort, type PageAccess } from "./paging.js";
import { pkDenies } from "./pkeys.js";
import { X86Regs } from "./regs.js";
import type { FastMem } from "./isa/semantics/fast.js";
import { SEG_ORDER } from "./isa/types.js";
import { movToCr4ExtraCycles } from "./cost.js";
import { PageTableWatch } from "./pt-watch.js";
import { decodeX86 } from "./isa/decode.js";
import { compileBlock, MAX_BLOCK_INSNS, type Block } from "./jit.js";
import type { ExitRules } from "./vmx/controls.js";
import { EPT_EXEC, EPT_READ, EPT_WRITE, type Ept, type EptAccess } from "./vmx/ept.js";
import type { Vmcs } from "./vmx/fields.js";
import type { X86SystemSegment } from "./env.js";
import { descriptorTableExit, loadSystemSegment, readSystemSegment } from "./system-tables.js";
import { EPT_VIOLATION_QUAL, INTR_TYPE, IO_QUAL, encodeQual } from "./vmx/qualification.js";
import { EXIT, type ExitReasonName } from "./vmx/reasons.js";
import { VECTOR } from "./vectors.js";
import { MASK64 } from "../core/bits.js";
import { encodeBits32 } from "../core/bitfields.js";
import { crAccessExit, plainCrExit, plainHltExit, plainMsrExit } from "./plain-exit.js";
import { cpuRefusesMsr } from "./canonical.js";
import { deliverEvent } from "./delivery.js";
import { DR6_BD, DR7_GD, DR7_RW, DR_RESET, breakpointMatches, breakpointsEnabled, dataBreakpointsEnabled, dr6AfterDebugException, drTarget, drWriteValue } from "./debug-regs.js";

/** MSRs the CPU implements natively when the MSR bitmap lets the guest at them. */
const NATIVE_MSRS: Record<number, string> = {
  0x174: "IA32_SYSENTER_CS",
  0x175: "IA32_SYSENTER_ESP",
  0x176: "IA32_SYSENTER_EIP",
  0xc000_0100: "FS_BASE",
  0xc000_0101: "GS_BASE",
  0xc000_0102: "KERNEL_GS_BASE",
};

interface CodePage {
  insns: (X86Insn | undefined)[];
  blocks: (Block | null | undefined)[];
}

const PAGE_END = new Error("page end");
const ZERO_PAGE = new Uint8Array(4096);

interface TlbEntry {
  /** The TLB's generation when the entry was filled: valid while it is the current one. */
  generation: number;
  gpaPage: number;
  /** A 4 KiB piece of a large page: the key of the large page's first 4 KiB page and its size in 4 KiB pages (span 1: a 4 KiB page). */
  first: number;
  span: number;
  dirty: boolean;
  writable: boolean;
  user: boolean;
  executable: boolean;
  /**
   * A supervisor access may use the entry: false for a user-mode page while CR4.SMEP/SMAP is on
   * (the walk decides, with EFLAGS.AC), so the TLB hit costs the same one test as the U/S check.
   */
  supervisor: boolean;
  /** The protection-key tag (pkeys.ts protectionKeyTag; -1: none): the rights are checked at each data access. */
  pk: number;
}

/** CPUID causes a VM exit unconditionally (SDM Vol. 3 25.1.2): its exit information (no qualification). */
export const CPUID_EXIT: ExitInfo = { reason: EXIT.CPUID, qualification: 0 };

export interface CpuDeps {
  memory: GuestMemory;
  bus: MmioBus;
  rules: ExitRules;
  ept: Ept;
  /** The current VMCS: LDTR and TR live in its guest-state fields while the guest runs (saved there at exit anyway). */
  vmcs: Vmcs;
  /** Host cycles so far (the TSC). */
  now: () => bigint;
  /** An access to the APIC-access page at `offset` (the irqchip: an exit, or APICv's virtualized access). */
  apicPage?: (offset: number, size: number, write: boolean, value: bigint) => bigint;
  /** An x2APIC MSR access the MSR bitmap passes (virtualize x2APIC mode); undefined: not virtualized; "gp": the processor's #GP. */
  x2apicMsr?: (msr: number, write: boolean, value: bigint) => bigint | undefined | "gp";
}

export class X86Cpu implements X86Env, FastMem {
  /** The register file (Number halves, lazy flags; the X86State API through accessors). */
  readonly state: X86Regs;
  /** The instruction being executed (for exit lengths and I/O operand encodings). */
  insn: X86Insn | null = null;
  /** Set while KVM's emulator replays an instruction: non-RAM accesses go to the MMIO bus. */
  emulating: {
    mmio: { gpa: number; size: number; write: boolean; value: bigint }[];
    /** Port I/O of the emulated instruction, handed to KVM's PIO path instead of exiting again. */
    pio?: (port: number, size: 1 | 2 | 4, write: boolean, value: number) => number;
    /** em_syscall_is_enabled: the guest's CPUID vendor is AMD (or Hygon), so SYSCALL runs outside 64-bit mode. */
    syscallOutside64?: boolean;
  } | null = null;
  /**
   * REP string instructions (semantics/string.ts RepBudget): iterations the next one may run (the
   * machine's remaining step budget; 1 = one iteration per step), and how many the last one ran.
   */
  repBudget = 1;
  repDone = 0;
  /** Modelled cycles the instruction just executed costs beyond one (cost.ts: a MOV to CR4 that flushes global entries); the machine takes them. */
  extraCycles = 0;
  /** HLT executed without HLT exiting: the vCPU sleeps until an interrupt (there is none to come). */
  sleeping = false;
  /** Guest-physical base of the APIC-access page while "virtualize APIC accesses" is on, else -1 (set at VM entry). */
  apicAccessPage = -1;
  /** Trap-like exits of stores may be deferred (trap-exit.ts): set by the machine while a compiled block runs. */
  deferTraps = false;
  /** A trap-like exit a store raised while deferTraps was set (wr returned true); the machine takes it (trap-exit.ts). */
  trap: ExitInfo | null = null;
  readonly msrs = new Map<number, bigint>();
  private readonly tlb = new Map<number, TlbEntry>();

  constructor(
    state: X86State,
    private readonly deps: CpuDeps,
  ) {
    this.state = state instanceof X86Regs ? state : X86Regs.from(state);
  }

  /**
   * Decoded instructions and compiled blocks by host-physical page (the memory the code came
   * from), in arrays indexed by page offset. Code is position independent (rip-relative), so
   * entries stay valid across TLB flushes; a write to the page drops it (codeWritten).
   */
  private readonly code = new Map<number, CodePage>();
  /** A store hit a page with cached code since the flag was cleared (blocks stop; jit.ts). */
  smc = false;
  // The last instruction-fetch translation: linear page → code page (an instruction TLB entry).
  private fLin = NaN;
  private fMode: X86State["mode"] = "real";
  private fCs: X86State["seg"]["cs"] | null = null;
  private fCsBaseN = 0;
  private fPage: CodePage | null = null;
  private fHpa = 0;
  /** Page offset of rip after codePage(). */
  private fOff = 0;

  flushTlb(): void {
    // Entries of older generations are dead; their objects are refilled in place by the next walks
    // of their pages (a guest that flushes often walks the same few pages again: no allocation).
    this.tlbGeneration++;
    this.ptWatch.flushed(this.deps.ept.version);
    if (this.tlb.size > 1024) this.tlb.clear();
    this.tlbHasLarge = false;
    this.invalidateFetch();
  }

  /** Forget the cached fetch translation (TLB flush, EPT change by the hypervisor, VM entry). */
  /** Bumped whenever a fetch translation or cached code may have changed (block chains check it). */
  epoch = 0;
  /** The vCPU's interrupt events (its KvmIrqChip, set by createX86Vcpu): traces stop when nextEvent changes. */
  events: { readonly nextEvent: number } = { nextEvent: Infinity };

  /**
   * Bumped by whatever may change the guest-state registers the VMCS holds other than RIP, RSP and
   * RFLAGS (control registers, EFER, segments, descriptor tables, the mode): an instruction on the
   * BigInt semantics (segmentsChanged), an event delivery, a TLB flush or fetch invalidation. VM exit
   * and entry compare only RIP/RSP/RFLAGS while it is unchanged (vmx/guest-state.ts).
   */
  systemVersion = 0;

  invalidateFetch(): void {
    this.epoch++;
    this.systemVersion++;
    this.fLin = NaN;
    this.fPage = null;
    this.fCs = null;
    this.vLin.fill(NaN);
    this.invalidateData();
  }

  /** The guest pages holding paging structures, and writes to them since the last flush (pt-watch.ts). */
  readonly ptWatch = new PageTableWatch();

  // Earlier fetch translations (an interrupt handler's page and the interrupted code's): the
  // entry codePage replaced goes here, valid exactly as long as it would have stayed (dropped with
  // it by invalidateFetch, or alone when its page's code is written).
  private readonly vLin = new Float64Array(4).fill(NaN);
  private readonly vMode: X86State["mode"][] = ["real", "real", "real", "real"];
  private readonly vPage: (CodePage | null)[] = [null, null, null, null];
  private readonly vHpa = new Float64Array(4);
  private vNext = 0;

  /** Guest memory written at a page: drop decoded and compiled code from it (self-modifying code); note a paging-structure write. */
  codeWritten(pageNumber: number): void {
    this.ptWatch.written(pageNumber);
    if (this.zeroPages.size !== 0 && this.zeroPages.has(pageNumber)) this.invalidateData();
    if (this.code.delete(pageNumber)) {
      this.smc = true;
      this.epoch++;
      if (this.fPage && this.fHpa === pageNumber) this.invalidateFetch();
      for (let i = 0; i < 4; i++) if (this.vHpa[i] === pageNumber) this.vLin[i] = NaN;
    }
  }

  /** The code page rip is in (translating the fetch once per page), or null (not RAM: slow path). */
  private codePage(): CodePage | null {
    const s = this.state;
    let lin: number;
    const cs = s.seg.cs;
    if (s.mode === "long64") lin = s.pc;
    else {
      // CS changes (segment loads, VM entry) replace the object or invalidate this cache.
      if (cs !== this.fCs) {
        this.invalidateFetch();
        this.fCs = cs;
        this.fCsBaseN = Number(cs.base & 0xffff_ffffn);
      }
      lin = this.fCsBaseN + s.pc; // both below 2^32: wrap by one subtraction (% on doubles is slow)
      if (lin >= 4294967296) lin -= 4294967296;
    }
    const linPage = Math.floor(lin / 4096);
    this.fOff = (lin - linPage * 4096) | 0;
    if (linPage === this.fLin && s.mode === this.fMode && this.fPage) return this.fPage;
    for (let i = 0; i < 4; i++) {
      if (this.vLin[i] !== linPage || this.vMode[i] !== s.mode) continue;
      // Swap: the earlier translation becomes the current one, the current one an earlier one.
      const page = this.vPage[i]!, hpa = this.vHpa[i]!;
      this.remember(i);
      (this.fLin = linPage), (this.fMode = s.mode), (this.fPage = page), (this.fHpa = hpa);
      return page;
    }
    const big = BigInt.asUintN(64, BigInt(lin));
    const gpa = this.translateLinear(big, { write: false, fetch: true, user: this.cpl() === 3 });
    const hpa = this.hostAddress(gpa, big, "fetch", true);
    if (hpa === null) return null;
    const pn = Math.floor(hpa / 4096);
    let page = this.code.get(pn);
    if (!page) {
      this.code.set(pn, (page = { insns: new Array<X86Insn | undefined>(4096).fill(undefined), blocks: new Array<Block | null | undefined>(4096).fill(undefined) }));
      // Writes to a code page must go through codeWritten: drop every vCPU's fast write entries for it.
      for (const c of this.peers) c.dropWriteEntries(pn);
    }
    this.remember(this.vNext);
    this.vNext = (this.vNext + 1) & 3;
    this.fLin = linPage;
    this.fMode = s.mode;
    this.fPage = page;
    this.fHpa = pn;
    return page;
  }

  /** Keep the current fetch translation in earlier-translation slot `i` (none: the slot is emptied). */
  private remember(i: number): void {
    const cur = this.fPage;
    this.vLin[i] = cur !== null && this.fLin === this.fLin ? this.fLin : NaN;
    this.vMode[i] = this.fMode;
    this.vPage[i] = cur;
    this.vHpa[i] = this.fHpa;
  }

  /** Forget fast write entries for host page `pn` (it now holds decoded code: writes must reach codeWritten). */
  private dropWriteEntries(pn: number): void {
    for (let i = 0; i < 256; i++) if (this.wPn[i] === pn) this.wKey[i] = NaN;
  }

  /**
   * The vCPUs of this CPU's machine (itself included): they share guest memory, so a page that
   * holds decoded code for any of them gets no fast write entry in any (writes to it must reach
   * every vCPU's codeWritten through `peerHook`, the machine's memory.onWrite).
   */
  peers: X86Cpu[] = [this];
  peerHook: ((pageNumber: number) => void) | null = null;

  /** Decode at a page offset from memory; null if the instruction does not end in the page. */
  private decodeInPage(page: CodePage, off: number, mode: X86State["mode"]): X86Insn | null {
    const hit = page.insns[off];
    if (hit && hit.mode === mode) return hit;
    const base = this.fHpa * 4096;
    const memory = this.deps.memory;
    let insn: X86Insn;
    try {
      insn = decodeX86((o) => {
        if (off + o >= 4096) throw PAGE_END;
        return memory.readByte(base + off + o);
      }, mode);
    } catch (e) {
      if (e === PAGE_END) return null;
      throw e;
    }
    page.insns[off] = insn;
    return insn;
  }

  /** The decoded instruction at rip: fetched through paging/EPT (may fault or exit), decoded once. */
  fetchInsn(): X86Insn {
    const s = this.state;
    const page = this.codePage();
    const insn = page ? this.decodeInPage(page, this.fOff, s.mode) : null;
    return insn ?? decodeX86((o) => this.fetchByte(o), s.mode);
  }

  /** The compiled block at rip, or null (no template for the first instruction, or not RAM). */
  blockAt(): Block | null {
    const s = this.state;
    if (s.mode === "real" || s.mode === "protected16") return null;
    const page = this.codePage();
    if (!page) return null;
    const start = this.fOff;
    const hit = page.blocks[start];
    if (hit !== undefined && (hit === null || hit.mode === s.mode)) return hit;
    const insns: X86Insn[] = [];
    for (let off = start; insns.length < MAX_BLOCK_INSNS; ) {
      const insn = this.decodeInPage(page, off, s.mode);
      if (!insn) break;
      insns.push(insn);
      off += insn.length;
      if (insn.spec.sem === "ud") break;
    }
    const block = insns.length ? compileBlock(insns, s.mode) : null;
    page.blocks[start] = block;
    return block;
  }

  private cpl(): number {
    return this.state.mode === "real" ? 0 : this.state.seg.cs.selector & 3;
  }

  // ---- addresses ----

  linear(seg: X86Seg, offset: bigint): bigint {
    const s = this.state;
    if (s.mode === "long64") return ((seg === "fs" || seg === "gs" ? s.seg[seg].base : 0n) + offset) & MASK64;
    return (s.seg[seg].base + offset) & 0xffff_ffffn;
  }

  private exitEpt(gpa: number, lin: bigint, access: EptAccess, perms: number, final: boolean, misconfig: boolean): never {
    if (misconfig) throw new VmExitSignal({ reason: EXIT.EPT_MISCONFIG, qualification: 0n, guestPhysical: gpa });
    const q = encodeQual(EPT_VIOLATION_QUAL, {
      read: access === "read" ? 1 : 0,
      write: access === "write" ? 1 : 0,
      fetch: access === "fetch" ? 1 : 0,
      readable: perms & 1,
      writable: (perms >> 1) & 1,
      executable: (perms >> 2) & 1,
      gla_valid: 1,
      final_translation: final ? 1 : 0,
      // An IRET that ended blocking by NMI and then met the violation (SDM Vol. 3 27.2.3): the saved
      // state has NMIs unblocked, and the VMM blocks them again before it re-runs the IRET.
      nmi_unblocking: this.insn?.spec.sem === "iret" && this.state.iretUnblockedNmi ? 1 : 0,
    });
    throw new VmExitSignal({ reason: EXIT.EPT_VIOLATION, qualification: q, guestPhysical: gpa, guestLinear: lin });
  }

  /** Guest-physical → host-physical through EPT; null means "not RAM, hand to the MMIO bus" (emulation only). */
  private hostAddress(gpa: number, lin: bigint, access: EptAccess, final: boolean): number | null {
    // KVM's emulator reaches guest RAM through the memslots (kvm_read_guest), not through EPT.
    if (this.emulating) return this.deps.memory.isRam(gpa) ? gpa : null;
    if (!this.deps.rules.eptEnabled()) return this.deps.memory.isRam(gpa) ? gpa : null;
    const page = this.deps.ept.cachedHostPage(Math.floor(gpa / 4096), access === "read" ? EPT_READ : access === "write" ? EPT_WRITE : EPT_EXEC);
    if (page >= 0) return page + (gpa % 4096);
    const w = this.deps.ept.walk(gpa, access);
    if (!w.ok) this.exitEpt(gpa, lin, access, w.perms, final, w.misconfig);
    return w.hpa;
  }

  /**
   * Linear → guest-physical through the TLB, else the walk (paging.ts). The TLB key is the whole
   * 52-bit page number, so a non-canonical address (e.g. a LAM-style tagged pointer on a CPU without
   * LAM) never hits an entry of its canonical twin: it misses and the walk raises #GP(0), or #SS(0)
   * for a stack-segment access (`stack`; SDM Vol. 3 6.15 "#SS ... a non-canonical address in a
   * memory reference using the SS segment register"). No cost on a hit.
   */
  private translateLinear(lin: bigint, a: PageAccess, stack = false): number {
    const key = Number(lin >> 12n);
    const hit = this.tlb.get(key);
    if (hit !== undefined && hit.generation === this.tlbGeneration && (!a.write || (hit.writable && hit.dirty)) && (!a.fetch || hit.executable) && (a.user ? hit.user : hit.supervisor)) {
      if (hit.pk < 0) return hit.gpaPage + Number(lin & 0xfffn);
      // A keyed page: the rights register decides at each data access (a denial walks again, to the #PF).
      if (a.fetch || !pkDenies(this.state, hit.pk, a.write, a.user)) return (this.uncached = true), hit.gpaPage + Number(lin & 0xfffn);
    }
    try {
      this.walkLinear = lin;
      const t = walk(this.state, lin, a, this.entryPort);
      const span = t.pageSize / 4096;
      const first = span === 1 ? key : key - (key % span);
      const supervisor = !(t.user && supervisorChecksUser(this.state.cr4));
      const gpaPage = t.gpa - (t.gpa % 4096);
      const e = hit ?? { generation: 0, gpaPage, first, span, dirty: false, writable: false, user: false, executable: false, supervisor: false, pk: -1 };
      (e.generation = this.tlbGeneration), (e.gpaPage = gpaPage), (e.first = first), (e.span = span), (e.dirty = t.dirty);
      (e.writable = t.writable), (e.user = t.user), (e.executable = t.executable), (e.supervisor = supervisor), (e.pk = t.pk);
      if (hit === undefined) this.tlb.set(key, e);
      if (span > 1) this.tlbHasLarge = true;
      // The fast data TLB (rd/wr) checks no rights: only translations any later access may reuse go
      // there (not a keyed page's: WRPKRU changes its rights without a flush).
      // Nor a write that only CR0.WP = 0 allowed (a supervisor write to a read-only page): the
      // fast entries then never depend on CR0.WP, and a WP change keeps them.
      this.uncached = !supervisor || t.pk >= 0 || (a.write && !t.writable);
      return t.gpa;
    } catch (e) {
      if (e instanceof GuestFault && e.vector === VECTOR.PF) this.pendingCr2 = e.address ?? 0n;
      if (stack && e instanceof GuestFault && e.vector === VECTOR.GP) throw new GuestFault(VECTOR.SS, 0);
      throw e;
    }
  }

  /** The linear address being walked (an EPT violation on a paging-structure entry reports it). */
  private walkLinear = 0n;

  /**
   * Paging-structure entries for the walk (paging.ts): read at guest-physical addresses through
   * EPT (hostAddress: a violation exits with the walked linear address, not final), as 32-bit
   * halves; not-RAM entries come from the MMIO bus. The accessed/dirty write-back is a write
   * through EPT too.
   */
  private readonly entryPort: EntryPort = {
    hi: 0,
    readEntry: (gpa: number, size: 4 | 8): number => {
      const port = this.entryPort;
      const hpa = this.hostAddress(gpa, this.walkLinear, "read", false);
      if (hpa === null) {
        this.ptWatch.noteMmioEntry();
        const v = this.deps.bus.read(gpa, size);
        port.hi = Number((v >> 32n) & 0xffff_ffffn);
        return Number(v & 0xffff_ffffn);
      }
      const memory = this.deps.memory;
      // A page newly known to hold paging structures: no vCPU keeps a fast write entry for it (pt-watch.ts).
      const pn = Math.floor(hpa / 4096);
      if (this.ptWatch.noteEntryPage(pn)) for (const c of this.peers) c.dropWriteEntries(pn);
      port.hi = size === 8 ? memory.read32(hpa + 4) : 0;
      return memory.read32(hpa);
    },
    writeEntryLow: (gpa: number, lo: number): void => {
      const hpa = this.hostAddress(gpa, this.walkLinear, "write", false);
      if (hpa !== null) this.deps.memory.write(hpa, 4, BigInt(lo >>> 0));
    },
  };

  /** The last walk was a supervisor access to a user page under SMEP/SMAP: keep it out of the fast data TLB. */
  private uncached = false;

  /** Linear address of the last #PF (CR2 is written when the fault is delivered, not when it exits). */
  pendingCr2 = 0n;

  private accessLinear(lin: bigint, size: number, kind: EptAccess, value?: bigint, stack = false, implicit = false): bigint {
    const a: PageAccess = { write: kind === "write", fetch: kind === "fetch", user: !implicit && this.cpl() === 3, implicit };
    if (Number(lin & 0xfffn) + size > 0x1000) {
      // Split at the page boundary, low bytes first.
      let v = 0n;
      for (let i = 0; i < size; i++) {
        const byte = value === undefined ? undefined : (value >> BigInt(8 * i)) & 0xffn;
        v |= this.accessLinear((lin + BigInt(i)) & MASK64, 1, kind, byte, stack, implicit) << BigInt(8 * i);
      }
      return v;
    }
    this.uncached = false;
    const gpa = this.translateLinear(lin, a, stack);
    // The APIC-access page (virtualize APIC accesses, SDM 29.4): the irqchip exits or virtualizes it.
    // (apicAccessPage -1: none; without the check, guest-physical page 0 would count as it.)
    if (this.apicAccessPage >= 0 && gpa - this.apicAccessPage < 4096 && gpa >= this.apicAccessPage && !this.emulating && this.deps.apicPage) {
      this.lastHpa = null;
      return this.deps.apicPage(gpa & 0xfff, size, kind === "write", value ?? 0n);
    }
    const hpa = this.hostAddress(gpa, lin, kind, true);
    this.lastHpa = this.uncached ? null : hpa;
    if (hpa === null) {
      if (this.emulating && kind === "fetch") {
        // KVM's emulator cannot fetch instructions from MMIO: an emulation failure (KVM_EXIT_INTERNAL_ERROR).
        throw new Error(`instruction fetch from guest-physical 0x${gpa.toString(16)}, which is not RAM`);
      }
      if (this.emulating) {
        if (value === undefined) {
          const v = this.deps.bus.find(gpa) ? this.deps.bus.read(gpa, size) : (1n << BigInt(8 * size)) - 1n;
          this.emulating.mmio.push({ gpa, size, write: false, value: v });
          return v;
        }
        if (this.deps.bus.find(gpa)) this.deps.bus.write(gpa, size, value);
        this.emulating.mmio.push({ gpa, size, write: true, value });
        return value;
      }
      return value === undefined ? (1n << BigInt(8 * size)) - 1n : value; // unbacked, EPT off: reads as all-ones
    }
    if (value === undefined) return this.deps.memory.read(hpa, size);
    this.deps.memory.write(hpa, size, value);
    return value;
  }

  /** Instruction-fetch byte at cs:rip+offset (the decoder's fetch callback). */
  fetchByte(offset: number): number {
    // In the page of the current fetch translation (64-bit mode): its RAM page, as the walk would give
    // (the translation is dropped whenever the TLB, EPT, CS or the CPL change: invalidateFetch).
    const s = this.state;
    if (s.mode === "long64" && this.fPage !== null && this.fMode === "long64" && !this.emulating) {
      const lin = s.pc + offset;
      const page = Math.floor(lin / 4096);
      if (page === this.fLin) return this.deps.memory.readByte(this.fHpa * 4096 + (lin - page * 4096));
    }
    const lin = this.linear("cs", this.state.rip + BigInt(offset));
    return Number(this.accessLinear(lin, 1, "fetch"));
  }

  // ---- FastMem (the compiled templates' memory) ----
  // Linear addresses as Numbers; a small data TLB maps a linear page to its RAM page array,
  // filled by the general path (paging, EPT, A/D bits) after an access succeeds, separately for
  // reads and writes, cleared with the TLB and whenever the hypervisor ran (EPT may change).
  // Page-crossing, MMIO, FS/GS in 64-bit mode and KVM's emulation take the general path.
  // Direct-mapped, 256 entries; a page's entry is (page ^ page >>> 8) & 255, so pages 1 MiB
  // apart (kvm-unit-tests' stack at 0x1019000 and data at 0x419000) do not evict each other.

  hi = 0;
  /** Host-physical address of the last RAM access of the general path (null: MMIO). */
  private lastHpa: number | null = null;
  readonly rKey = new Float64Array(256).fill(NaN);
  readonly rArr: (Uint8Array | null)[] = new Array<Uint8Array | null>(256).fill(null);
  readonly wKey = new Float64Array(256).fill(NaN);
  readonly wArr: (Uint8Array | null)[] = new Array<Uint8Array | null>(256).fill(null);
  private readonly wPn = new Float64Array(256);
  /** Segment bases as Numbers (NaN: read it again from state.seg). Compiled blocks read these arrays. */
  readonly segBaseN = new Float64Array(6).fill(NaN);
  /** FS and GS bases in 64-bit mode as signed Numbers (canonical: exact), NaN when not read yet. */
  private readonly fsGsBaseN = new Float64Array(2).fill(NaN);

  /** Memory pages the read TLB maps to ZERO_PAGE (unallocated RAM): a write to one clears the TLB. */
  private readonly zeroPages = new Set<number>();

  /** memory.onWrite is the CPU's own hook (inline stores in blocks may skip calling it). */
  ownHook = false;

  private invalidateData(): void {
    const hook = this.deps.memory.onWrite;
    this.ownHook = hook === this.writeHook || (hook !== null && hook === this.peerHook);
    if (this.zeroPages.size !== 0) this.zeroPages.clear();
    this.segBaseN.fill(NaN);
    this.fsGsBaseN.fill(NaN);
    this.rKey.fill(NaN);
    this.wKey.fill(NaN);
  }

  /** Linear address of seg:offset as a Number, or NaN (general path). */
  private fastLinear(seg: number, lo: number, hi: number): number {
    if (this.emulating) return NaN;
    if (this.state.mode === "long64") {
      let lin = (hi | 0) * 4294967296 + (lo >>> 0);
      if (seg >= 4) {
        // FS/GS (per-CPU data: kvm-unit-tests' smp_id()): base + offset, exact while canonical (NaN if not: the slow path).
        let base = this.fsGsBaseN[seg - 4]!;
        if (base !== base) base = this.fsGsBaseN[seg - 4] = signedCanonical(this.state.seg[SEG_ORDER[seg]!].base);
        lin += base;
      }
      return lin >= 0x8000_0000_0000 || lin < -0x8000_0000_0000 ? NaN : lin;
    }
    let base = this.segBaseN[seg]!;
    if (base !== base) base = this.segBaseN[seg] = Number(this.state.seg[SEG_ORDER[seg]!].base & 0xffff_ffffn);
    const lin = base + (lo >>> 0);
    return lin >= 4294967296 ? lin - 4294967296 : lin;
  }

  /**
   * Forget cached segment bases: after any instruction on the BigInt semantics (segment loads,
   * WRMSR FS/GS_BASE, SWAPGS) and whenever the caches are invalidated.
   */
  segmentsChanged(): void {
    this.systemVersion++;
    this.segBaseN.fill(NaN);
    this.fsGsBaseN.fill(NaN);
  }

  /** memory.onWrite: the machine installs this; fast-path writes (never to code pages) skip it. */
  readonly writeHook = (pageNumber: number): void => this.codeWritten(pageNumber);

  rd(seg: number, lo: number, hi: number, size: number): number {
    const lin = this.fastLinear(seg, lo, hi);
    const page = Math.floor(lin / 4096);
    const off = lin - page * 4096;
    const i = (page ^ (page >>> 8)) & 255;
    if (this.rKey[i] === page && off + size <= 4096) {
      const a = this.rArr[i]!;
      switch (size) {
        case 1: return a[off]!;
        case 2: return a[off]! | (a[off + 1]! << 8);
        case 4: return a[off]! | (a[off + 1]! << 8) | (a[off + 2]! << 16) | (a[off + 3]! << 24);
        default:
          this.hi = a[off + 4]! | (a[off + 5]! << 8) | (a[off + 6]! << 16) | (a[off + 7]! << 24);
          return a[off]! | (a[off + 1]! << 8) | (a[off + 2]! << 16) | (a[off + 3]! << 24);
      }
    }
    this.lastHpa = null;
    const v = this.read(SEG_ORDER[seg]!, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0), { size: size as 1 | 2 | 4 | 8, write: false });
    if (lin === lin && off + size <= 4096 && this.lastHpa !== null && !this.dataWatch) {
      const pn = Math.floor(this.lastHpa / 4096);
      let arr = this.deps.memory.allocatedPage(this.lastHpa);
      if (!arr) (arr = ZERO_PAGE), this.zeroPages.add(pn); // RAM never written: zeros until a write allocates it
      this.rKey[i] = page;
      this.rArr[i] = arr;
    }
    this.hi = Number(v >> 32n) | 0;
    const l = Number(v & 0xffff_ffffn);
    return size >= 4 ? l | 0 : l;
  }

  wr(seg: number, lo: number, hi: number, size: number, vlo: number, vhi: number): boolean {
    const lin = this.fastLinear(seg, lo, hi);
    const page = Math.floor(lin / 4096);
    const off = lin - page * 4096;
    const i = (page ^ (page >>> 8)) & 255;
    if (this.wKey[i] === page && off + size <= 4096) {
      const a = this.wArr[i]!;
      a[off] = vlo;
      if (size >= 2) a[off + 1] = vlo >> 8;
      if (size >= 4) (a[off + 2] = vlo >> 16), (a[off + 3] = vlo >> 24);
      if (size === 8) (a[off + 4] = vhi), (a[off + 5] = vhi >> 8), (a[off + 6] = vhi >> 16), (a[off + 7] = vhi >> 24);
      // Pages with decoded code never get write entries (codePage), so only a foreign listener needs telling.
      const hook = this.deps.memory.onWrite;
      if (hook !== null && hook !== this.writeHook && hook !== this.peerHook) hook(this.wPn[i]!, this.wPn[i]! * 4096 + off, size);
      return false;
    }
    const v = size === 8 ? (BigInt(vhi >>> 0) << 32n) | BigInt(vlo >>> 0) : BigInt((size === 4 ? vlo >>> 0 : vlo & (size === 1 ? 0xff : 0xffff)));
    this.lastHpa = null;
    this.write(SEG_ORDER[seg]!, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0), v, { size: size as 1 | 2 | 4 | 8, write: true });
    // The store raised a deferred trap-like exit (trap-exit.ts): the compiled block stops at it.
    if (this.trap !== null) return true;
    const arr = lin === lin && off + size <= 4096 && this.lastHpa !== null && !this.dataWatch ? this.deps.memory.allocatedPage(this.lastHpa) : undefined;
    if (arr && this.lastHpa !== null) {
      const pn = Math.floor(this.lastHpa / 4096);
      // A plain loop: this runs on every fast-write fill, and a callback would be allocated each time.
      // No fast write entry for a page holding any vCPU's code or page tables (pt-watch.ts).
      let watched = false;
      for (let p = 0; p < this.peers.length && !watched; p++) watched = this.peers[p]!.code.has(pn) || this.peers[p]!.ptWatch.pages.has(pn);
      if (!watched) {
        this.wKey[i] = page;
        this.wArr[i] = arr;
        this.wPn[i] = pn;
      }
      this.rKey[i] = page; // a writable page is readable here too (EPT write implies read; paging likewise)
      this.rArr[i] = arr;
    }
    return false;
  }

  // ---- X86Env ----

  read(seg: X86Seg, offset: bigint, a: X86MemAccess): bigint {
    const lin = this.linear(seg, offset);
    const v = this.accessLinear(lin, a.size, a.fetch ? "fetch" : "read", undefined, seg === "ss");
    if (this.dataWatch && !a.fetch) this.dataHits |= breakpointMatches(this.dr, DR7_RW.READ_WRITE, lin, a.size);
    return v;
  }

  write(seg: X86Seg, offset: bigint, value: bigint, a: X86MemAccess): void {
    const lin = this.linear(seg, offset);
    this.accessLinear(lin, a.size, "write", value & ((1n << BigInt(8 * a.size)) - 1n), seg === "ss");
    if (this.dataWatch) this.dataHits |= breakpointMatches(this.dr, DR7_RW.WRITE, lin, a.size);
  }

  /** Read at a linear address (descriptor tables, IDT, TSS): an implicit supervisor-mode access (SDM Vol. 3 4.6). */
  readLinear(lin: bigint, size: number): bigint {
    this.lastHpa = null;
    const v = this.accessLinear(lin, size, "read", undefined, false, true);
    // At CPL 0 an implicit supervisor read's translation is one every later access at this CPL may
    // reuse, as rd's: the data TLB gets it (the IDT gates and GDT descriptors fast-events.ts reads).
    if (this.lastHpa !== null && !this.dataWatch && !this.emulating && Number(lin & 0xfffn) + size <= 4096 && this.cpl() === 0) {
      const page = Math.floor(Number(BigInt.asIntN(64, lin)) / 4096);
      const i = (page ^ (page >>> 8)) & 255;
      let arr = this.deps.memory.allocatedPage(this.lastHpa);
      if (!arr) (arr = ZERO_PAGE), this.zeroPages.add(Math.floor(this.lastHpa / 4096));
      this.rKey[i] = page;
      this.rArr[i] = arr;
    }
    return v;
  }

  private crExit(cr: number, accessType: number, gpr: number): never {
    throw new VmExitSignal(crAccessExit(cr, accessType, gpr));
  }

  /** The CR-access exit MOV to/from CR `insn` takes, decided before it runs (cr-exit.ts), or null. */
  plainCrExit(insn: X86Insn): ExitInfo | null {
    return this.emulating || this.cpl() !== 0 ? null : plainCrExit(this.state, this.deps.rules, insn);
  }

  /** The MSR exit RDMSR/WRMSR `insn` takes, decided before it runs (plain-exit.ts), or null. */
  plainMsrExit(insn: X86Insn): ExitInfo | null {
    return this.emulating || this.cpl() !== 0 ? null : plainMsrExit(this.state, this.deps.rules, insn);
  }

  /** The exit HLT takes, decided before it runs (plain-exit.ts), or null. */
  plainHltExit(): ExitInfo | null {
    return this.emulating || this.cpl() !== 0 ? null : plainHltExit(this.deps.rules);
  }

  writeCr(cr: number, value: bigint, gpr: number): void {
    const s = this.state;
    const rules = this.deps.rules;
    if (this.cpl() !== 0) this.raise(VECTOR.GP, 0);
    switch (cr) {
      case 0: {
        if (rules.movToCr0or4Exits(0, value)) this.crExit(0, 0, gpr);
        const next = rules.mergeCr0or4(0, s.cr0, value);
        this.checkCr0(next);
        this.applyCr0(next);
        return;
      }
      case 3:
        if (rules.movToCr3Exits(value)) this.crExit(3, 0, gpr);
        if (s.efer & EFER.LMA && value >> 52n) this.raise(VECTOR.GP, 0);
        s.cr3 = value;
        this.flushTlb();
        return;
      case 4: {
        const next = rules.cr4Write(s.cr4, value);
        if (next === null) this.crExit(4, 0, gpr);
        if (s.efer & EFER.LMA && !(next & CR4.PAE)) this.raise(VECTOR.GP, 0);
        const changed = s.cr4 ^ next;
        this.extraCycles += movToCr4ExtraCycles(s.cr4, next);
        s.cr4 = next;
        // Only bits that change translations flush the TLB (SDM Vol. 3 4.10.4.1 "MOV to CR4";
        // KVM's X86_CR4_TLBFLUSH_BITS = PGE | PCIDE | PAE | SMEP, plus PSE, SMAP and LA57, which
        // change how a walk reads the tables). Decoded code is kept by physical page either way.
        // PGE alone, with no paging-structure entry or EPT changed since the last flush, leaves
        // every entry what a walk would now give: the flush is one nothing could tell (pt-watch.ts).
        if ((changed & CR4_TRANSLATION_BITS) === CR4.PGE && this.ptWatch.unchangedSinceFlush(this.deps.ept.version)) this.systemVersion++;
        else if (changed & CR4_TRANSLATION_BITS) this.flushTlb();
        else this.systemVersion++;
        return;
      }
      case 8:
        if (rules.movCr8Exits(true)) this.crExit(8, 0, gpr);
        if (value >> 4n) this.raise(VECTOR.GP, 0);
        s.cr8 = value;
        return;
      default:
        this.raise(VECTOR.UD);
    }
  }

  /**
   * Architectural checks of a CR0 value (SDM Vol. 2 MOV CR: #GP conditions; Vol. 3 9.8.5.4:
   * paging cannot be turned off in 64-bit mode, software must go to compatibility mode first;
   * nor while CR4.PCIDE = 1).
   */
  checkCr0(v: bigint): void {
    if (v >> 32n) this.raise(VECTOR.GP, 0);
    if (!(v & CR0.PG) && (this.state.mode === "long64" || this.state.cr4 & CR4.PCIDE)) this.raise(VECTOR.GP, 0);
    if (v & CR0.PG && !(v & CR0.PE)) this.raise(VECTOR.GP, 0);
    if (v & CR0.NW && !(v & CR0.CD)) this.raise(VECTOR.GP, 0);
    if (v & CR0.PG && !(this.state.cr0 & CR0.PG) && this.state.efer & EFER.LME && !(this.state.cr4 & CR4.PAE)) this.raise(VECTOR.GP, 0);
  }

  /** Commit CR0; paging turning on with EFER.LME activates IA-32e mode (EFER.LMA), off deactivates it. */
  applyCr0(v: bigint): void {
    const s = this.state;
    const wasPg = (s.cr0 & CR0.PG) !== 0n;
    const isPg = (v & CR0.PG) !== 0n;
    const changed = s.cr0 ^ v;
    s.cr0 = v;
    if (!wasPg && isPg && s.efer & EFER.LME) s.efer |= EFER.LMA;
    if (wasPg && !isPg) s.efer &= ~EFER.LMA;
    s.mode = modeOf(s);
    // SDM Vol. 3 4.10.4.1 "MOV to CR0": the TLBs are invalidated when CR0.PG changes; PE changes the
    // mode. The TLB here keeps each translation's R/W, U/S and XD bits and CR0.WP is applied at every
    // access (paging.ts finish), as the processor does (4.10.2.2), so a WP change keeps it; the data
    // fast path, which skips that check, is dropped.
    if (changed & CR0_TRANSLATION_BITS) this.flushTlb();
    else {
      this.systemVersion++;
      if (changed & CR0.WP) this.invalidateData();
    }
  }

  readCr(cr: number, gpr: number, anyCpl = false): bigint {
    const s = this.state;
    const rules = this.deps.rules;
    if (!anyCpl && this.cpl() !== 0) this.raise(VECTOR.GP, 0);
    switch (cr) {
      case 0:
        return rules.readCr0or4(0, s.cr0);
      case 2:
        return s.cr2;
      case 3:
        if (rules.movFromCr3Exits()) this.crExit(3, 1, gpr);
        return s.cr3;
      case 4:
        return rules.readCr0or4(4, s.cr4);
      case 8:
        if (rules.movCr8Exits(false)) this.crExit(8, 1, gpr);
        return s.cr8;
      default:
        this.raise(VECTOR.UD);
    }
  }

  /** FastMem.readCr8 (MOV r64, CR8 on the compiled path, fast-system.ts): readCr(8) as a Number. */
  readCr8(gpr: number): number {
    // The common case without BigInt work: CPL 0, no CR8-store exiting, a TPR class (CR8 is 4 bits).
    if (this.cpl() === 0 && !this.deps.rules.movCr8Exits(false)) {
      const v = this.state.cr8;
      if (v === this.cr8Seen) return this.cr8SeenNum;
      this.cr8Seen = v;
      return (this.cr8SeenNum = Number(v));
    }
    return Number(this.readCr(8, gpr));
  }
  /** readCr8's last CR8 value and its Number (the value seldom changes; BigInt → Number is not free). */
  private cr8Seen = 0n;
  private cr8SeenNum = 0;

  /** FastMem.writeCr8 (MOV CR8, r64 on the compiled path): writeCr(8) of the value (lo, hi). */
  writeCr8(lo: number, hi: number, gpr: number): void {
    this.writeCr(8, hi === 0 ? BigInt(lo >>> 0) : (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0), gpr);
  }

  lmsw(value: number): void {
    if (this.deps.rules.lmswExits(value)) {
      // Access type 3 (LMSW), no register (bits 11:8 cleared): Intel SDM Vol. 3 Table 28-3.
      const memoryOperand = this.insn?.operands.some((o) => o.kind === "mem") ?? false;
      throw new VmExitSignal(crAccessExit(0, 3, 0, { source: value & 0xffff, memoryOperand }));
    }
    // LMSW loads PE, MP, EM, TS and cannot clear PE.
    const s = this.state;
    const next = (s.cr0 & ~0xen) | BigInt(value & 0xe) | (s.cr0 & 1n) | BigInt(value & 1);
    this.applyCr0(this.deps.rules.mergeCr0or4(0, s.cr0, next));
  }

  clts(): void {
    if (this.deps.rules.cltsExits()) this.crExit(0, 2, 0);
    this.state.cr0 &= ~CR0.TS;
  }

  /** The TSC as the host sees it (KVM's guest TSC = host TSC + TSC_OFFSET). */
  rdtscHost(): bigint {
    return (this.deps.now() + this.deps.rules.tscOffset()) & MASK64;
  }

  /** DR0-DR7 by number (DR4/DR5 slots unused: they alias DR6/DR7, debug-regs.ts drTarget). */
  debugRegister(n: number): bigint {
    return this.dr[n] ?? 0n;
  }

  /** Store a debug register value already checked and normalized (drWriteValue). */
  setDebugRegister(n: number, v: bigint): void {
    this.dr[n] = v;
    this.drArmed = breakpointsEnabled(this.dr[7]!);
    const watch = dataBreakpointsEnabled(this.dr[7]!);
    // Data breakpoints: every data access takes the checked path (read/write), the fast caches stay empty.
    if (watch && !this.dataWatch) this.invalidateData();
    this.dataWatch = watch;
  }

  /** DR7 enables a data breakpoint: read()/write() collect matches in dataHits and rd/wr keep no cache. */
  dataWatch = false;
  /** B0-B3 of the data breakpoints the current instruction's accesses matched (SDM 17.3.1.2). */
  dataHits = 0n;
  /** Data breakpoint matches of a MOV SS / POP SS, held until the next instruction (SDM 6.8.3). */
  heldDebug = 0n;

  private dr: bigint[] = [...DR_RESET];
  /** DR7 enables a breakpoint: the machine checks instruction breakpoints before each instruction (interpreter only). */
  drArmed = false;

  /**
   * The debug register MOV DR names, after the checks the CPU makes before the access (SDM Vol. 2
   * MOV DR): #UD for DR4/DR5 with CR4.DE, then #DB (DR6.BD, fault) while DR7.GD is set, which clears
   * GD. A MOV-DR exit takes priority over the #UD (SDM Vol. 3 25.1.3), so callers check exiting first.
   */
  private drAccess(dr: number): number {
    const n = drTarget(dr, (this.state.cr4 & CR4.DE) !== 0n);
    if (n === "ud") this.raise(VECTOR.UD);
    if (this.dr[7]! & DR7_GD) {
      this.setDebugRegister(7, this.dr[7]! & ~DR7_GD);
      throw new GuestFault(VECTOR.DB, undefined, DR6_BD);
    }
    return n;
  }

  readDr(dr: number, gpr: number): bigint {
    if (this.deps.rules.movDrExits()) {
      throw new VmExitSignal({ reason: EXIT.DR_ACCESS, qualification: BigInt(dr | (1 << 4) | (gpr << 8)) });
    }
    return this.dr[this.drAccess(dr)]!;
  }

  writeDr(dr: number, value: bigint, gpr: number): void {
    if (this.deps.rules.movDrExits()) {
      // SDM Table 27-4: bits 2:0 DR number, bit 4 direction (0 = MOV to DR), 11:8 GPR.
      throw new VmExitSignal({ reason: EXIT.DR_ACCESS, qualification: BigInt(dr | (gpr << 8)) });
    }
    const n = this.drAccess(dr);
    const v = drWriteValue(n, value);
    if (v === "gp") this.raise(VECTOR.GP, 0);
    this.setDebugRegister(n, v);
  }

  /** A #DB's effect on DR6 (dr6AfterDebugException), as the CPU or KVM's payload delivery applies it. */
  debugException(payload: bigint): void {
    this.dr[6] = dr6AfterDebugException(this.dr[6]!, payload);
  }

  /** B0-B3 of the instruction breakpoints matching the instruction at rip (0n: none), SDM 17.3.1.1. */
  instructionBreakpoints(): bigint {
    return breakpointMatches(this.dr, DR7_RW.EXECUTE, this.linear("cs", this.state.rip), 1);
  }

  rdmsr(msr: number): bigint {
    if (this.cpl() !== 0) this.raise(VECTOR.GP, 0);
    if (this.deps.rules.msrExits(msr, false)) throw new VmExitSignal({ reason: EXIT.MSR_READ, qualification: 0n });
    // Virtualize x2APIC mode (SDM 29.5): an x2APIC MSR the bitmap passes reads the virtual-APIC page.
    if (msr >= 0x800 && msr <= 0x8ff && this.deps.x2apicMsr) {
      const v = this.deps.x2apicMsr(msr, false, 0n);
      if (v === "gp") this.raise(VECTOR.GP, 0);
      if (v !== undefined) return v;
    }
    const s = this.state;
    if (msr === 0xc000_0100) return s.seg.fs.base;
    if (msr === 0xc000_0101) return s.seg.gs.base;
    if (msr === MSR_EFER) return s.efer;
    if (NATIVE_MSRS[msr] !== undefined) return this.msrs.get(msr) ?? 0n;
    this.raise(VECTOR.GP, 0);
  }

  wrmsr(msr: number, value: bigint): void {
    if (this.cpl() !== 0) this.raise(VECTOR.GP, 0);
    if (this.deps.rules.msrExits(msr, true)) throw new VmExitSignal({ reason: EXIT.MSR_WRITE, qualification: 0n });
    if (msr >= 0x800 && msr <= 0x8ff && this.deps.x2apicMsr) {
      const v = this.deps.x2apicMsr(msr, true, value);
      if (v === "gp") this.raise(VECTOR.GP, 0);
      if (v !== undefined) return;
    }
    if (cpuRefusesMsr(msr, value)) this.raise(VECTOR.GP, 0);
    const s = this.state;
    if (msr === 0xc000_0100) s.seg.fs.base = value;
    else if (msr === 0xc000_0101) s.seg.gs.base = value;
    else if (msr === MSR_EFER) {
      if ((value ^ s.efer) & EFER.LME && s.cr0 & CR0.PG) this.raise(VECTOR.GP, 0);
      s.efer = (value & ~EFER.LMA) | (s.efer & EFER.LMA);
    } else if (NATIVE_MSRS[msr] !== undefined) this.msrs.set(msr, value);
    else this.raise(VECTOR.GP, 0);
  }

  private ioExit(port: number, size: number, direction: "in" | "out"): never {
    throw new VmExitSignal(this.ioExitInfo(port, size, direction));
  }

  /** The I/O-instruction exit of the current instruction (SDM Vol. 3 Table 28-5: the qualification). */
  private ioExitInfo(port: number, size: number, direction: "in" | "out"): ExitInfo {
    const insn = this.insn;
    const imm = insn?.operands.some((o) => o.kind === "imm") ? 1 : 0;
    const mnem = insn?.spec.mnemonic ?? "";
    const str = mnem.startsWith("ins") || mnem.startsWith("outs") ? 1 : 0;
    const q = encodeBits32(IO_QUAL, {
      size: size - 1,
      direction: direction === "in" ? 1 : 0,
      string: str,
      rep: str && insn?.prefixes.rep ? 1 : 0,
      operand_encoding: imm,
      port,
    });
    return { reason: EXIT.IO_INSTRUCTION, qualification: q };
  }

  /**
   * The exit a plain IN/OUT (`insn`, the current instruction: not INS/OUTS) takes, or null when
   * it runs in the guest. The machine's interpreter takes it without an exception: I/O exits are
   * the most frequent exits of real guests (a serial console polls its line status per character),
   * and an exception costs microseconds in V8.
   */
  plainIoExit(insn: X86Insn): ExitInfo | null {
    if (this.emulating?.pio) return null;
    const [a, b] = insn.operands as [X86Operand, X86Operand];
    const isIn = insn.spec.sem === "in";
    const portOp = isIn ? b : a;
    const size = ((isIn ? a : b) as { size: number }).size;
    const port = portOp.kind === "imm" ? Number(portOp.value & 0xffn) : this.state.r[2]! & 0xffff; // DX
    return this.deps.rules.ioExits(port, size) ? this.ioExitInfo(port, size, isIn ? "in" : "out") : null;
  }

  in(port: number, size: 1 | 2 | 4): number {
    if (this.emulating?.pio) return this.emulating.pio(port, size, false, 0);
    if (this.deps.rules.ioExits(port, size)) this.ioExit(port, size, "in");
    return size === 4 ? 0xffff_ffff : (1 << (8 * size)) - 1; // no device answers a port nobody traps
  }

  out(port: number, size: 1 | 2 | 4, value: number): void {
    if (this.emulating?.pio) {
      this.emulating.pio(port, size, true, value);
      return;
    }
    if (this.deps.rules.ioExits(port, size)) this.ioExit(port, size, "out");
  }

  cpuid(_leaf: number, _subleaf: number): { eax: number; ebx: number; ecx: number; edx: number } {
    throw new VmExitSignal(CPUID_EXIT);
  }

  /** Called at an RDTSC that does not exit, before the read (the machine's TSC-polling skip: tsc-poll.ts). */
  onRdtsc: (() => void) | null = null;

  rdtsc(): bigint {
    if (this.deps.rules.rdtscExits()) throw new VmExitSignal({ reason: EXIT.RDTSC, qualification: 0n });
    this.onRdtsc?.();
    return (this.deps.now() + this.deps.rules.tscOffset()) & MASK64;
  }

  hlt(): void {
    if (this.cpl() !== 0) this.raise(VECTOR.GP, 0);
    if (this.deps.rules.hltExits()) throw new VmExitSignal({ reason: EXIT.HLT, qualification: 0n });
    this.sleeping = true; // HLT activity state: only an interrupt or NMI would wake it
  }

  invlpg(linear: bigint): void {
    if (this.deps.rules.invlpgExits()) throw new VmExitSignal({ reason: EXIT.INVLPG, qualification: linear });
    this.invalidatePage(linear);
  }

  /**
   * INVLPG's invalidation (SDM Vol. 3 4.10.4.1): the TLB entries of the page that holds `linear`.
   * The TLB keeps 4 KiB entries, so for a large page every 4 KiB piece of it goes (a big TLB is
   * flushed whole instead: flushing more is always allowed). The
   * fetch and data caches are rebuilt from the TLB, whose other entries stay: a guest that edits
   * its page tables and invalidates one page at a time (kvm-unit-tests' access test does millions
   * of times) does not walk every page again.
   */
  invalidatePage(linear: bigint): void {
    const key = Number(linear >> 12n); // the TLB key of translateLinear
    if (!this.tlbHasLarge) this.tlb.delete(key);
    else if (this.tlb.size > 1024) return this.flushTlb();
    else for (const [k, e] of this.tlb) if (key >= e.first && key < e.first + e.span) this.tlb.delete(k);
    this.invalidateFetch();
  }

  /** The TLB holds an entry made from a page larger than 4 KiB (cleared with it). */
  private tlbHasLarge = false;
  /** TLB entries of another generation are not there (flushTlb bumps it). */
  private tlbGeneration = 0;

  wbinvd(): void {
    if (this.deps.rules.wbinvdExits()) throw new VmExitSignal({ reason: EXIT.WBINVD, qualification: 0n });
  }

  loadDescriptorTable(which: "gdt" | "idt", base: bigint, limit: number): void {
    const v = { base: this.state.mode === "long64" ? base : base & 0xffff_ffffn, limit: limit & 0xffff };
    if (which === "gdt") this.state.gdtr = v;
    else this.state.idtr = v;
  }

  /** Segment load with the protected-mode descriptor checks (SDM Vol. 3 5.4-5.6, simplified to CPL 0). */
  loadSegment(seg: X86Seg, selector: number): void {
    const s = this.state;
    selector &= 0xffff;
    // (Every change bumps systemVersion: the VM exit's guest-state save then compares the segments.)
    if (s.mode === "real") {
      s.seg[seg] = { selector, base: BigInt(selector << 4), limit: 0xffff, attributes: seg === "cs" ? 0x9b : 0x93 };
      return this.segmentsChanged();
    }
    const index = selector & ~7;
    if (index === 0) {
      if (seg === "cs" || (seg === "ss" && s.mode !== "long64")) this.raise(VECTOR.GP, 0);
      s.seg[seg] = { selector, base: 0n, limit: 0, attributes: 1 << 16 };
      return this.segmentsChanged();
    }
    if (selector & 4 || index + 7 > s.gdtr.limit) this.raise(VECTOR.GP, index);
    const d = this.readLinear(s.gdtr.base + BigInt(index), 8);
    const access = Number((d >> 40n) & 0xffn);
    const flags = Number((d >> 52n) & 0xfn);
    const attributes = access | (flags << 12);
    if (!AR.s(attributes)) this.raise(VECTOR.GP, index);
    const isCode = (access & 8) !== 0;
    if (seg === "cs" && !isCode) this.raise(VECTOR.GP, index);
    if (seg === "ss" && (isCode || !(access & 2))) this.raise(VECTOR.GP, index);
    if (!AR.present(attributes)) this.raise(seg === "ss" ? VECTOR.SS : VECTOR.NP, index);
    let limit = Number(((d >> 32n) & 0xf0000n) | (d & 0xffffn));
    if (AR.g(attributes)) limit = ((limit << 12) | 0xfff) >>> 0;
    const base = ((d >> 16n) & 0xffffffn) | (((d >> 56n) & 0xffn) << 24n);
    // The register already holds this descriptor (an interrupt or IRET within one privilege level
    // reloads the same CS and SS): nothing changes, and the caches that depend on CS stay valid.
    const old = s.seg[seg];
    if (old.selector === selector && old.base === base && old.limit === limit && old.attributes === (attributes | 1)) return;
    s.seg[seg] = { selector, base, limit, attributes: attributes | 1 };
    this.segmentsChanged();
    if (seg === "cs") {
      s.mode = modeOf(s);
      // The code caches depend on CS (mode, base); the TLB does not (SDM Vol. 3 4.10.4: loading
      // a segment register invalidates no TLB entry; U/S is checked against CPL on every access).
      this.invalidateFetch();
    }
  }

  /** SYSCALL/SYSRET's MSRs: KVM loads the guest's values into the CPU before entry (user-return MSRs). */
  syscallMsr(msr: number): bigint {
    return this.msrs.get(msr) ?? 0n;
  }

  /** Intel hardware: SYSCALL is #UD outside 64-bit mode (SDM Vol. 2B SYSCALL); KVM's emulator may say otherwise. */
  syscallOutside64(): boolean {
    return this.emulating?.syscallOutside64 ?? false;
  }

  /** CS/SS replaced by SYSCALL/SYSRET: cached fetch and data translations assumed the old CPL. */
  privilegeChanged(): void {
    this.invalidateFetch();
  }

  /** XCR0 while the guest runs (KVM loads the guest's on entry: kvm_load_guest_xcr0); x87 state only. */
  xcr0 = 1n;

  /** XSETBV exits unconditionally in VMX non-root operation (SDM Vol. 3 25.1.2); no qualification. */
  xsetbv(_index: number, _value: bigint): void {
    throw new VmExitSignal({ reason: EXIT.XSETBV, qualification: 0n });
  }

  /** XGETBV: XCR0; XCR1 (XINUSE) exists only with CPUID.(EAX=0DH,ECX=1):EAX[2], not modelled: #GP(0). */
  xgetbv(index: number): bigint {
    if (index !== 0) this.raise(VECTOR.GP, 0);
    return this.xcr0;
  }

  /** LDTR or TR: held in the VMCS guest-state fields while the guest runs (system-tables.ts). */
  systemSegment(which: "ldtr" | "tr"): X86SystemSegment {
    return readSystemSegment(this.deps.vmcs, which);
  }

  /** LLDT/LTR: the descriptor checks and the load (system-tables.ts). */
  loadSystemSegment(which: "ldtr" | "tr", selector: number): void {
    loadSystemSegment(this, this.deps.vmcs, which, selector);
  }

  /** Descriptor-table exiting (system-tables.ts); KVM's emulator runs the instructions (handle_desc). */
  descriptorTableAccess(insn: X86Insn): void {
    if (this.emulating || !this.deps.rules.descriptorTableExits()) return;
    throw new VmExitSignal(descriptorTableExit(insn));
  }

  /** Write at a linear address (descriptor updates such as the TSS busy bit): an implicit supervisor-mode access. */
  writeLinear(lin: bigint, size: number, value: bigint): void {
    this.accessLinear(lin, size, "write", value, false, true);
  }

  /** VMX instructions in VMX non-root operation exit unconditionally (SDM 25.1.2). */
  vmx(mnemonic: string): void {
    const reason: Record<string, ExitReasonName> = {
      vmcall: "VMCALL", vmlaunch: "VMLAUNCH", vmresume: "VMRESUME", vmxoff: "VMOFF", vmclear: "VMCLEAR",
      vmptrld: "VMPTRLD", vmptrst: "VMPTRST", vmread: "VMREAD", vmwrite: "VMWRITE", vmxon: "VMON",
    };
    const name = Object.hasOwn(reason, mnemonic) ? reason[mnemonic] : undefined;
    if (!name) this.raise(VECTOR.UD);
    throw new VmExitSignal({ reason: EXIT[name], qualification: 0n });
  }

  raise(vector: number, errorCode?: number): never {
    throw new GuestFault(vector, errorCode);
  }

  // ---- exception delivery (SDM Vol. 3 6.12, 6.14): delivery.ts ----

  /**
   * Deliver an exception or interrupt to the guest (delivery.ts deliverEvent): an exit if the
   * exception bitmap says so (unless VM entry injects it), else through the guest IDT or IVT.
   */
  deliver(vector: number, errorCode: number | undefined, injected: boolean, address?: bigint, type: number = INTR_TYPE.HW_EXCEPTION, returnRip?: bigint): void {
    deliverEvent(this, vector, errorCode, injected, address, type, returnRip);
  }

  /** Whether the exception bitmap (and #PF error-code mask/match) makes this exception an exit. */
  exceptionExits(vector: number, code: number | undefined): boolean {
    return this.deps.rules.exceptionExits(vector, code);
  }
}

/** A 64-bit segment base as a signed Number when canonical (SDM Vol. 1 3.3.7.1: bits 63:47 all equal), else NaN. */
function signedCanonical(base: bigint): number {
  if (base < 0x8000_0000_0000n) return Number(base);
  if (base >= 0xffff_8000_0000_0000n) return Number(base - 0x1_0000_0000_0000_0000n);
  return NaN;
}
