// Guest memory access for X86Cpu (its first layer; cpu.ts): segmentation → guest paging (a TLB
// in front of paging.ts's walk) → EPT (when enabled) → RAM or the MMIO bus, the APIC-access page,
// data breakpoints, and the compiled code's fast data TLB (FastMem rd/wr: linear page → RAM page).
import type { GuestMemory } from "../core/memory.js";
import type { MmioBus } from "../core/bus.js";
import type { X86MemAccess, X86Seg, X86State } from "./env.js";
import type { X86Insn } from "./isa/types.js";
import { CR4, GuestFault, VmExitSignal, type ExitInfo } from "./state.js";
import { walk, type EntryPort, type PageAccess } from "./paging.js";
import { pkDenies } from "./pkeys.js";
import { X86Regs } from "./regs.js";
import type { FastMem } from "./isa/semantics/fast.js";
import { SEG_ORDER } from "./isa/types.js";
import { PageTableWatch } from "./pt-watch.js";
import type { ExitRules } from "./vmx/controls.js";
import { EPT_EXEC, EPT_READ, EPT_WRITE, type Ept, type EptAccess } from "./vmx/ept.js";
import type { Vmcs } from "./vmx/fields.js";
import { EPT_VIOLATION_QUAL, encodeQual } from "./vmx/qualification.js";
import { EXIT } from "./vmx/reasons.js";
import { VECTOR } from "./vectors.js";
import { MASK64 } from "../core/bits.js";
import { DR7_RW, DR_RESET, breakpointMatches } from "./debug-regs.js";

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
   * A supervisor data access may use the entry: false for a user-mode page while CR4.SMAP is on
   * (the walk decides, with EFLAGS.AC), so the TLB hit costs the same one test as the U/S check.
   */
  supervisor: boolean;
  /** A supervisor instruction fetch may use the entry: false for a user-mode page while CR4.SMEP is on. */
  supervisorFetch: boolean;
  /** The protection-key tag (pkeys.ts protectionKeyTag; -1: none): the rights are checked at each data access. */
  pk: number;
}

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

/** X86Cpu's memory layer (cpu.ts): every guest data access, fast (rd/wr) or checked (read/write). */
export abstract class CpuMemory implements Omit<FastMem, "readCr8" | "writeCr8"> {
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
  /** Guest-physical base of the APIC-access page while "virtualize APIC accesses" is on, else -1 (set at VM entry). */
  apicAccessPage = -1;
  /** Trap-like exits of stores may be deferred (trap-exit.ts): set by the machine while a compiled block runs. */
  deferTraps = false;
  /** A trap-like exit a store raised while deferTraps was set (wr returned true); the machine takes it (trap-exit.ts). */
  trap: ExitInfo | null = null;
  private readonly tlb = new Map<number, TlbEntry>();

  constructor(
    state: X86State,
    protected readonly deps: CpuDeps,
  ) {
    this.state = state instanceof X86Regs ? state : X86Regs.from(state);
  }

  /**
   * Bumped by whatever may change the guest-state registers the VMCS holds other than RIP, RSP and
   * RFLAGS (control registers, EFER, segments, descriptor tables, the mode): an instruction on the
   * BigInt semantics (segmentsChanged), an event delivery, a TLB flush or fetch invalidation. VM exit
   * and entry compare only RIP/RSP/RFLAGS while it is unchanged (vmx/guest-state.ts).
   */
  systemVersion = 0;

  /**
   * Linear pages (keyed as codePage computes them) whose fetch translation was made since the last
   * invalidateFetch: an INVLPG of one of them drops every cached translation (the chains and traces
   * followed it); of any other page, only that page's data entries (invalidatePage).
   */
  protected readonly fetchedPages = new Set<number>();
  /** Forget the cached fetch translation and code-dependent caches (fetch-cache.ts). */
  abstract invalidateFetch(): void;
  /** Guest memory written at a page: decoded code from it goes (fetch-cache.ts). */
  abstract codeWritten(pageNumber: number): void;
  /** Decoded code by host-physical page (fetch-cache.ts): pages in it get no fast write entry. */
  protected abstract readonly code: ReadonlyMap<number, unknown>;

  /** The guest pages holding paging structures, and writes to them since the last flush (pt-watch.ts). */
  readonly ptWatch = new PageTableWatch();

  /** Drop every TLB entry (MOV to CR3, a translation bit of CR0/CR4, VM entry) and the fetch and data caches built on them. */
  flushTlb(): void {
    // Entries of older generations are dead; their objects are refilled in place by the next walks
    // of their pages (a guest that flushes often walks the same few pages again: no allocation).
    this.tlbGeneration++;
    this.ptWatch.flushed(this.deps.ept.version);
    if (this.tlb.size > 1024) this.tlb.clear();
    this.tlbHasLarge = false;
    this.invalidateFetch();
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
    let large = false;
    if (!this.tlbHasLarge) this.tlb.delete(key);
    else if (this.tlb.size > 1024) return this.flushTlb();
    else
      for (const [k, e] of this.tlb)
        if (key >= e.first && key < e.first + e.span) {
          large ||= e.span > 1 && e.generation === this.tlbGeneration; // (an older generation's entry serves nothing)
          this.tlb.delete(k);
        }
    // The fast caches are keyed by linear page as the compiled code computes it: signed in 64-bit
    // mode (canonical addresses are exact Numbers), the low 32 bits otherwise.
    const signedPage = Math.floor(Number(BigInt.asIntN(64, linear)) / 4096);
    const page32 = Number((linear >> 12n) & 0xfffffn);
    // A page code was fetched from (block chains and traces follow its translation), or a large
    // page whose other 4 KiB pieces the fast caches may hold: drop every cached translation.
    if (large || this.fetchedPages.has(signedPage) || this.fetchedPages.has(page32)) return this.invalidateFetch();
    // Otherwise only this page's fast data entries: the others stay valid, as the TLB's do.
    this.dropDataPage(signedPage);
    this.dropDataPage(page32);
  }

  /** Forget the fast read and write entries for linear page `page` (a key as rd/wr compute it). */
  private dropDataPage(page: number): void {
    const i = (page ^ (page >>> 8)) & 255;
    if (this.rKey[i] === page) this.rKey[i] = NaN;
    if (this.wKey[i] === page) this.wKey[i] = NaN;
    if (this.oKey.r[i] === page) this.oKey.r[i] = NaN;
    if (this.oKey.w[i] === page) this.oKey.w[i] = NaN;
  }

  /** The TLB holds an entry made from a page larger than 4 KiB (cleared with it). */
  private tlbHasLarge = false;
  /** TLB entries of another generation are not there (flushTlb bumps it). */
  private tlbGeneration = 0;

  /** Forget every vCPU's fast write entries for host page `pn` (it now holds decoded code or paging structures). */
  protected dropPeerWriteEntries(pn: number): void {
    for (const c of this.peers) c.dropWriteEntries(pn);
  }

  /** Forget fast write entries for host page `pn`, in both privileges' banks (it now holds decoded code: writes must reach codeWritten). */
  private dropWriteEntries(pn: number): void {
    for (let i = 0; i < 256; i++) {
      if (this.wPn[i] === pn) this.wKey[i] = NaN;
      if (this.oKey.wPn[i] === pn) this.oKey.w[i] = NaN;
    }
  }

  /**
   * The vCPUs of this CPU's machine (itself included): they share guest memory, so a page that
   * holds decoded code for any of them gets no fast write entry in any (writes to it must reach
   * every vCPU's codeWritten through `peerHook`, the machine's memory.onWrite).
   */
  peers: CpuMemory[] = [this];
  peerHook: ((pageNumber: number) => void) | null = null;

  protected cpl(): number {
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
  protected hostAddress(gpa: number, lin: bigint, access: EptAccess, final: boolean): number | null {
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
  protected translateLinear(lin: bigint, a: PageAccess, stack = false): number {
    const key = Number(lin >> 12n);
    const hit = this.tlb.get(key);
    if (hit !== undefined && hit.generation === this.tlbGeneration && (!a.write || (hit.writable && hit.dirty)) && (!a.fetch || hit.executable) && (a.user ? hit.user : a.fetch ? hit.supervisorFetch : hit.supervisor)) {
      if (hit.pk < 0) return hit.gpaPage + Number(lin & 0xfffn);
      // A keyed page: the rights register decides at each data access (a denial walks again, to the #PF).
      if (a.fetch || !pkDenies(this.state, hit.pk, a.write, a.user)) return (this.uncached = true), hit.gpaPage + Number(lin & 0xfffn);
    }
    try {
      this.walkLinear = lin;
      const t = walk(this.state, lin, a, this.entryPort);
      const span = t.pageSize / 4096;
      const first = span === 1 ? key : key - (key % span);
      // SMAP restricts supervisor data accesses to user pages, SMEP supervisor fetches (SDM Vol. 3 4.6.1).
      const supervisor = !(t.user && (this.state.cr4 & CR4.SMAP) !== 0n);
      const supervisorFetch = !(t.user && (this.state.cr4 & CR4.SMEP) !== 0n);
      const gpaPage = t.gpa - (t.gpa % 4096);
      const e = hit ?? { generation: 0, gpaPage, first, span, dirty: false, writable: false, user: false, executable: false, supervisor: false, supervisorFetch: false, pk: -1 };
      (e.generation = this.tlbGeneration), (e.gpaPage = gpaPage), (e.first = first), (e.span = span), (e.dirty = t.dirty);
      (e.writable = t.writable), (e.user = t.user), (e.executable = t.executable), (e.supervisor = supervisor), (e.supervisorFetch = supervisorFetch), (e.pk = t.pk);
      if (hit === undefined) this.tlb.set(key, e);
      if (span > 1) this.tlbHasLarge = true;
      // The fast data TLB (rd/wr) checks no rights: only translations any later access may reuse go
      // there (not a keyed page's: WRPKRU changes its rights without a flush).
      // Nor a write that only CR0.WP = 0 allowed (a supervisor write to a read-only page): the
      // fast entries then never depend on CR0.WP, and a WP change keeps them.
      // (A user access's entry goes to the user bank, which only CPL 3 uses: SMAP plays no part there.)
      this.uncached = (!a.user && !supervisor) || t.pk >= 0 || (a.write && !t.writable);
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
      if (this.ptWatch.noteEntryPage(pn)) this.dropPeerWriteEntries(pn);
      port.hi = size === 8 ? memory.read32(hpa + 4) : 0;
      return memory.read32(hpa);
    },
    writeEntryLow: (gpa: number, lo: number): void => {
      const hpa = this.hostAddress(gpa, this.walkLinear, "write", false);
      if (hpa !== null) this.deps.memory.write(hpa, 4, BigInt(lo >>> 0));
    },
  };

  /** The last access may not be reused by later ones without a check (a supervisor access to a user page under SMAP, a keyed page, a write WP = 0 allowed): keep it out of the fast data TLB. */
  private uncached = false;

  /** Linear address of the last #PF (CR2 is written when the fault is delivered, not when it exits). */
  pendingCr2 = 0n;

  protected accessLinear(lin: bigint, size: number, kind: EptAccess, value?: bigint, stack = false, implicit = false): bigint {
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
  // The data TLB in use: the bank of the current privilege (supervisor at CPL 0-2, user at CPL 3).
  // Its entries check no rights, so an entry one privilege may use is not one the other may (a
  // supervisor-only page; a user page under SMAP): each privilege has its own bank, and a privilege
  // change swaps them (privilegeSwitched) instead of emptying the one in use.
  rKey = new Float64Array(256).fill(NaN);
  rArr: (Uint8Array | null)[] = new Array<Uint8Array | null>(256).fill(null);
  wKey = new Float64Array(256).fill(NaN);
  wArr: (Uint8Array | null)[] = new Array<Uint8Array | null>(256).fill(null);
  private wPn = new Float64Array(256);
  /** The other privilege's bank (the fields above swap with these). */
  private oKey = { r: new Float64Array(256).fill(NaN), w: new Float64Array(256).fill(NaN), wPn: new Float64Array(256) };
  private oArr = { r: new Array<Uint8Array | null>(256).fill(null), w: new Array<Uint8Array | null>(256).fill(null) };
  /** The bank in use is the user bank (CPL 3). */
  protected userBank = false;
  /** Segment bases as Numbers (NaN: read it again from state.seg). Compiled blocks read these arrays. */
  readonly segBaseN = new Float64Array(6).fill(NaN);
  /** FS and GS bases in 64-bit mode as signed Numbers (canonical: exact), NaN when not read yet. */
  private readonly fsGsBaseN = new Float64Array(2).fill(NaN);

  /** Memory pages the read TLB maps to ZERO_PAGE (unallocated RAM): a write to one clears the TLB. */
  protected readonly zeroPages = new Set<number>();

  /** memory.onWrite is the CPU's own hook (inline stores in blocks may skip calling it). */
  ownHook = false;

  protected invalidateData(): void {
    const hook = this.deps.memory.onWrite;
    this.ownHook = hook === this.writeHook || (hook !== null && hook === this.peerHook);
    if (this.zeroPages.size !== 0) this.zeroPages.clear();
    this.segBaseN.fill(NaN);
    this.fsGsBaseN.fill(NaN);
    this.rKey.fill(NaN);
    this.wKey.fill(NaN);
    this.oKey.r.fill(NaN);
    this.oKey.w.fill(NaN);
    this.selectBank();
  }

  /** Use the data TLB bank of the current privilege (its entries stay while the other is in use). */
  protected selectBank(): void {
    const user = this.cpl() === 3;
    if (user === this.userBank) return;
    this.userBank = user;
    const k = this.oKey, a = this.oArr;
    [this.rKey, k.r] = [k.r, this.rKey];
    [this.wKey, k.w] = [k.w, this.wKey];
    [this.wPn, k.wPn] = [k.wPn, this.wPn];
    [this.rArr, a.r] = [a.r, this.rArr];
    [this.wArr, a.w] = [a.w, this.wArr];
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
    this.accessLinear(lin, a.size, "write", value & ((1n << BigInt(8 * a.size)) - 1n), seg === "ss", a.supervisor === true);
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

  /** Write at a linear address (descriptor updates such as the TSS busy bit): an implicit supervisor-mode access. */
  writeLinear(lin: bigint, size: number, value: bigint): void {
    this.accessLinear(lin, size, "write", value, false, true);
  }

  /** DR7 enables a data breakpoint: read()/write() collect matches in dataHits and rd/wr keep no cache. */
  dataWatch = false;
  /** B0-B3 of the data breakpoints the current instruction's accesses matched (SDM 17.3.1.2). */
  dataHits = 0n;
  protected dr: bigint[] = [...DR_RESET];

  raise(vector: number, errorCode?: number): never {
    throw new GuestFault(vector, errorCode);
  }
}

/** A 64-bit segment base as a signed Number when canonical (SDM Vol. 1 3.3.7.1: bits 63:47 all equal), else NaN. */
function signedCanonical(base: bigint): number {
  if (base < 0x8000_0000_0000n) return Number(base);
  if (base >= 0xffff_8000_0000_0000n) return Number(base - 0x1_0000_0000_0000_0000n);
  return NaN;
}
