// The arm64 machine: a guest CPU at EL1 under EL2 + guest RAM on a mach-virt-like map + a PL011
// UART + the KVM/arm64 model. step/run execute guest instructions until a trap rule raises an
// exception to EL2; the hardware's part of the exit (ESR_EL2, FAR_EL2, HPFAR_EL2, ELR_EL2,
// SPSR_EL2) is recorded, traced (kvm_exit) and left pending; handle() runs KVM's handler for the
// exception class and re-enters the guest.

import { GuestMemory } from "../core/memory.js";
import { MmioBus } from "../core/bus.js";
import { HostMemory } from "../core/host-memory.js";
import { TraceLog, type FieldValue, type TraceEmitter } from "../core/trace.js";
import { ExitlabError } from "../core/errors.js";
import { VmBase } from "../core/vm-base.js";
import type { DisasmLine, HandleResult, Machine, MachineOptions, MachineSettings, MachineView, TrapRequest } from "../core/machine.js";
import { disassembleA64 } from "./isa/index.js";
import { A64Engine } from "./engine.js";
import { A64Cpu, CpuStop, El2Trap } from "./cpu.js";
import { REG, join64, value64 } from "./state.js";
import { exceptionClass } from "./esr.js";
import { ExitStore } from "../core/exits.js";
import { CHUNK_MASK, putU64, setU64, type ColumnArray } from "../core/columns.js";
import { ARM64_EXIT_SCHEMA, F_FAR, F_HPFAR, F_USER, F_VAL, F_WORD } from "./exit-schema.js";
import { sysregByName } from "./sysregs.js";
import { KvmVcpu } from "./kvm/vcpu.js";
import { handleExit } from "./kvm/handlers.js";
import type { Granule } from "./kvm/stage2.js";
import { exitCost, GUEST_INSTRUCTION_CYCLES } from "./cost.js";
import { Pl011, PL011_BASE, PL011_SIZE } from "../devices/pl011.js";
import { loadGuest } from "./loader.js";
import { checkSetting } from "../core/settings.js";
import { applyTrap } from "./traps.js";
import { machineView } from "./views.js";
import { ARM64_REGISTER_NAMES } from "./registers.js";
import { ARM64_TRACEPOINT_TABLE } from "./tracepoints.js";

export const GUEST_RAM_BASE = 0x4000_0000;
export const GUEST_RAM_SIZE = 128 * 1024 * 1024;
export const DEFAULT_STEP_LIMIT = 10_000_000;
import { MASK64 } from "../core/bits.js";
const EC_SYS64 = 0x18, EC_HVC64 = 0x16, EC_SMC64 = 0x17, EC_WFX = 0x01;
/** HVC #0 and SMC #0 (imm16 in bits 20:5), WFI and WFE: Arm ARM C6.2 encodings. */
const CALL_WORD = [0xd400_0002, 0xd400_0003];
const WFI_WORD = 0xd503_207f, WFE_WORD = 0xd503_205f;

/** The cost of an exit known when it happens (world switch + handler), by exception class. */
const BASE_CYCLES: number[] = [];
function baseCycles(ec: number): number {
  return (BASE_CYCLES[ec] ??= exitCost(exceptionClass(ec).name).cycles);
}

export interface Arm64Settings extends MachineSettings {
  /** Stage-2 granule (the host's PAGE_SIZE): 64k as 2015 distribution kernels, or 4k. */
  granule: Granule;
  /** Emulate MMIO accesses without a syndrome (ldp/stp, writeback forms) by decoding the instruction. */
  pair_mmio: boolean;
  /** Compile guest code into blocks (off: run it one instruction at a time, for comparison). */
  jit: boolean;
}

export class Arm64Machine extends VmBase implements Machine {
  readonly arch = "arm64" as const;
  readonly memory: GuestMemory;
  readonly bus = new MmioBus();
  readonly host = new HostMemory();
  readonly trace: TraceLog;
  readonly exits: ExitStore;
  /** Where each arch column of the exit store is. */
  private readonly exitCols: Record<(typeof ARM64_EXIT_SCHEMA.columns)[number]["name"], number>;
  readonly settings: Arm64Settings;
  readonly cpu: A64Cpu;
  readonly kvm: KvmVcpu;
  readonly uart = new Pl011();
  readonly symbols: Map<string, bigint>;
  /** The kvm_exit and kvm_entry emitters (trace.emitterOf): every exit emits both. */
  private readonly emitExit: TraceEmitter;
  private readonly emitEntry: TraceEmitter;
  /** Runs guest code: compiled blocks, or one instruction at a time with `jit` off. */
  readonly engine: A64Engine;

  constructor(options: MachineOptions = {}) {
    super();
    this.settings = { era: "2015", stepLimit: DEFAULT_STEP_LIMIT, granule: "64k", pair_mmio: false, jit: true, ...(options.settings ?? {}) } as Arm64Settings;
    this.checkSettings();
    this.memory = new GuestMemory({ capBytes: options.memoryCapBytes });
    this.memory.addRegion({ name: "ram", base: GUEST_RAM_BASE, size: GUEST_RAM_SIZE });
    this.trace = new TraceLog(ARM64_TRACEPOINT_TABLE, { capEvents: options.traceCapEvents });
    this.emitExit = this.trace.emitterOf(this.trace.kindId("kvm_exit"));
    this.emitEntry = this.trace.emitterOf(this.trace.kindId("kvm_entry"));
    this.exits = new ExitStore(ARM64_EXIT_SCHEMA, options.exitCap);
    this.exitCols = Object.fromEntries([...this.exits.colIndex]) as Arm64Machine["exitCols"];
    this.bus.add(PL011_BASE, PL011_SIZE, this.uart);
    const guest = loadGuest(this.memory, options.guest ?? { builtin: "boot" }, {
      ram: { base: GUEST_RAM_BASE, size: GUEST_RAM_SIZE },
      uart: { base: PL011_BASE, size: PL011_SIZE },
    });
    this.symbols = guest.symbols;
    this.cpu = new A64Cpu(this.memory, this.bus, this.host.memory);
    this.kvm = new KvmVcpu({
      cpu: this.cpu,
      memory: this.memory,
      bus: this.bus,
      host: this.host,
      era: () => this.settings.era,
      granule: () => this.settings.granule,
      pairMmio: () => this.settings.pair_mmio,
      emit: (name, fields) => this.emit(name, fields),
      emitter: (name) => this.emitterFor(name),
    });
    this.engine = new A64Engine(this.cpu, this.memory);
    // Modelled time: cycles so far plus the instructions of the run in progress.
    this.cpu.clock = () => this.cycles + this.engine.retired * GUEST_INSTRUCTION_CYCLES;
    this.engine.jit = this.settings.jit;
    this.memory.onWrite = (page, pa, size) => this.engine.codeWritten(page, pa, size);
    this.kvm.reset(guest.entry, guest.dtb);
    this.enter();
  }



  get console(): string {
    return this.uart.output;
  }

  /** Guest instructions KVM emulated or skipped while handling exits (not counted in `steps`). */
  get emulated(): number {
    return this.kvm.emulated;
  }

  get pc(): bigint {
    return this.cpu.state.pc;
  }

  /** kvm_exit's and kvm_entry's field records, reused by every exit and entry (the trace copies them into its columns). */
  private readonly exitFields: Record<string, FieldValue> = { vcpu_pc: 0, esr_ec: 0 };
  private readonly entryFields: Record<string, FieldValue> = { vcpu_pc: 0 };

  /** Re-enter the guest (the eret at the end of __kvm_vcpu_run). */
  private enter(): void {
    this.entryFields.vcpu_pc = this.cpu.state.pcValue();
    this.emitEntry(this.steps, this.cycles, this.entryFields);
  }

  // ---- exits ----

  /** The hardware's side of a trap to EL2: syndrome registers, the exit's columns, then KVM's kvm_exit trace. */
  /** The arch columns of the exit chunk being filled, typed once per chunk (monomorphic stores). */
  private exitChunk: unknown = null;
  private exitArrays: { esr: Uint32Array; far: Uint32Array; hpfar: Uint32Array; val: Uint32Array; word: Uint32Array; flush: Float64Array } | null = null;

  private bindExitChunk(c: ColumnArray[]): NonNullable<Arm64Machine["exitArrays"]> {
    const j = this.exitCols;
    this.exitChunk = c;
    return (this.exitArrays = {
      esr: c[j.esr] as Uint32Array, far: c[j.far] as Uint32Array, hpfar: c[j.hpfar] as Uint32Array,
      val: c[j.val] as Uint32Array, word: c[j.word] as Uint32Array, flush: c[j.flush] as Float64Array,
    });
  }

  private vmExit(t: El2Trap): void {
    const cpu = this.cpu;
    const s = cpu.state;
    const r = s.r;
    const pcLo = r[REG.PC]!, pcHi = r[REG.PC + 1]!;
    // KVM's vcpu pc is ELR_EL2: past the instruction for HVC, the instruction itself otherwise.
    let elrLo = pcLo, elrHi = pcHi;
    if (t.next) {
      elrLo = (pcLo + 4) | 0;
      if (elrLo >>> 0 < 4) elrHi = (pcHi + 1) | 0;
      r[REG.PC] = elrLo;
      r[REG.PC + 1] = elrHi;
    }
    // The EL2 syndrome registers (none of them affects translation: straight into the register
    // file; ESR/ELR/SPSR kept as numbers until read).
    cpu.setExitRegs(t.esr, elrLo, elrHi);
    if (t.far !== undefined) cpu.sysregs.set("FAR_EL2", t.far);
    if (t.hpfar !== undefined) cpu.sysregs.set("HPFAR_EL2", t.hpfar);
    const vcpuPc = value64(elrLo, elrHi);
    // The syndrome is read once, as a number (ESR_EL2's defined bits fit in 32); the fields are
    // decoded by the exit schema when shown, and by KVM's handlers from kvm.exitEsr.
    const esr = t.esr >>> 0;
    const ec = esr >>> 26;
    let flags = 0;
    if (t.far !== undefined) flags |= F_FAR;
    if (t.hpfar !== undefined) flags |= F_HPFAR;
    // The value a trapped MSR writes (Rt), or x0 of an HVC: its register's halves.
    let valReg = -1;
    if (ec === EC_SYS64) {
      if ((esr & 1) === 0) valReg = (esr >>> 5) & 31;
    } else if (ec === EC_HVC64) valReg = 0;
    if (valReg >= 0) flags |= F_VAL;
    // The trapping instruction, for its disassembly when shown: HVC/SMC #imm16 and WFI/WFE are
    // determined by the syndrome (one encoding each); other classes read the word at pc.
    const word = ec === EC_HVC64 || ec === EC_SMC64 ? CALL_WORD[ec - EC_HVC64]! | ((esr & 0xffff) << 5) : ec === EC_WFX ? (esr & 1 ? WFE_WORD : WFI_WORD) : this.insnWord(join64(pcLo, pcHi), true);
    if (word !== undefined) flags |= F_WORD;
    // The cost known at the exit (world switch + handler); handling adds what it turns out to
    // need (cleaning pages, a trip to the VMM), as x86 records its cost at the exit too.
    const store = this.exits;
    const index = store.record(this.steps, pcLo >>> 0, pcHi >>> 0, ec, baseCycles(ec), flags);
    const c = store.chunk(index);
    const slot = index & CHUNK_MASK;
    const k = c === this.exitChunk ? this.exitArrays! : this.bindExitChunk(c);
    k.esr[slot] = esr;
    putU64(k.far, slot, t.far ?? 0);
    putU64(k.hpfar, slot, t.hpfar ?? 0);
    if (valReg >= 0 && valReg < 31) setU64(k.val, slot, r[2 * valReg]!, r[2 * valReg + 1]!);
    else setU64(k.val, slot, 0, 0);
    k.word[slot] = word ?? 0;
    k.flush[slot] = 0;
    this.kvm.exitEsr = esr;
    const f = this.exitFields;
    f.vcpu_pc = vcpuPc;
    f.esr_ec = ec;
    this.emitExit(this.steps, this.cycles, f);
    this.pendingIndex = index;
  }

  /** The instruction word at a guest VA, if it translates (for the exit's disassembly). */
  private insnWord(va: bigint, viaTlb = false): number | undefined {
    try {
      // At an exit, through the TLB: the trapping instruction was just fetched, so this is a hit.
      // Elsewhere (show disasm) the walk, which leaves the TLB as it was.
      const el = this.cpu.state.el;
      const pa = viaTlb ? this.cpu.mmu.translate(va, "fetch", el) : this.cpu.mmu.walk(va, "fetch", el).pa;
      return this.memory.isRam(pa) ? this.memory.read32(pa) : undefined;
    } catch {
      return this.memory.isRam(Number(va)) ? this.memory.read32(Number(va)) : undefined;
    }
  }

  protected execOne(): void {
    this.execMany(1);
  }

  /** Run up to `max` instructions through the engine; stops early at an exit or a stop. */
  protected override execMany(max: number): number {
    const s = this.cpu.state;
    let n: number;
    let stop: unknown;
    try {
      n = this.engine.run(max);
    } catch (e) {
      // Instructions before the one that trapped have retired (an exception taken to the guest's
      // EL1 counts as retired too: the engine takes those and goes on).
      n = s.partial;
      stop = e;
    }
    this.steps += n;
    this.cycles += n * GUEST_INSTRUCTION_CYCLES;
    if (stop === undefined) {
      const t = this.cpu.trap;
      if (t !== null) {
        this.cpu.trap = null;
        this.vmExit(t);
      }
      return n;
    }
    if (stop instanceof El2Trap) this.vmExit(stop);
    else if (stop instanceof CpuStop) this.halted = { message: stop.message };
    else {
      const msg = stop instanceof Error ? stop.message : String(stop);
      this.halted = { message: `emulation error at pc 0x${s.pc.toString(16)}: ${msg}` };
    }
    return n;
  }

  protected handlePending(index: number): HandleResult {
    const store = this.exits;
    const code = store.codeOf(index);
    const r = handleExit(this.kvm, code);
    let cycles = baseCycles(code);
    const flush = this.kvm.lastFlushBytes;
    const user = this.kvm.lastUserspace;
    if (flush || user) {
      // What handling turned out to need: recorded in the exit's columns, its cycles recomputed.
      cycles = exitCost(exceptionClass(code).name, { flushBytes: flush, userspace: user }).cycles;
      (store.chunk(index)[this.exitCols.flush] as Float64Array)[index & CHUNK_MASK] = flush;
      if (user) store.setFlags(index, store.row(index).flags | F_USER);
      store.setCycles(index, cycles);
    }
    this.cycles += cycles;
    if (r.action === "halt") {
      this.halted = { message: r.message };
      return r;
    }
    this.enter();
    return r;
  }

  // ---- registers, memory, settings ----

  registerNames(): readonly string[] {
    return ARM64_REGISTER_NAMES;
  }

  readRegister(name: string): bigint {
    const s = this.cpu.state;
    const n = name.toLowerCase();
    let m = /^x(\d+)$/.exec(n);
    if (m && Number(m[1]) <= 30) return s.x[Number(m[1])]!;
    m = /^w(\d+)$/.exec(n);
    if (m && Number(m[1]) <= 30) return s.x[Number(m[1])]! & 0xffff_ffffn;
    switch (n) {
      case "pc": return s.pc;
      case "sp": return s.currentSp;
      case "xzr": case "wzr": return 0n;
      case "sp_el1": return s.sp[1]!;
      case "pstate": case "cpsr": return this.cpu.pstate;
      case "el": return BigInt(s.el);
    }
    const reg = sysregByName(n);
    if (reg) return this.cpu.readSysregValue(reg.name);
    throw new ExitlabError(`unknown arm64 register ${name}`, "registers: x0..x30, w0..w30, sp, pc, pstate, el and system registers such as sctlr_el1, esr_el2");
  }

  writeRegister(name: string, value: bigint): void {
    const s = this.cpu.state;
    const n = name.toLowerCase();
    const v = value & MASK64;
    let m = /^x(\d+)$/.exec(n);
    if (m && Number(m[1]) <= 30) s.x[Number(m[1])] = v;
    else if ((m = /^w(\d+)$/.exec(n)) && Number(m[1]) <= 30) s.x[Number(m[1])] = v & 0xffff_ffffn;
    else if (n === "pc") s.pc = v;
    else if (n === "sp") s.currentSp = v;
    else if (n === "pstate" || n === "cpsr") this.cpu.pstate = v;
    else {
      const reg = sysregByName(n);
      if (!reg) throw new ExitlabError(`unknown arm64 register ${name}`);
      if (reg.readOnly) throw new ExitlabError(`${reg.name} is read-only`);
      this.cpu.writeSysregValue(reg.name, v);
    }
    this.cpu.mmu.flush();
  }

  disassemble(address: bigint, count: number): DisasmLine[] {
    const out: DisasmLine[] = [];
    for (let i = 0; i < count; i++) {
      const a = address + BigInt(4 * i);
      const word = this.insnWord(a);
      if (word === undefined) {
        out.push({ address: a, bytes: new Uint8Array(0), text: "(not guest RAM)" });
        break;
      }
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, word, true);
      out.push({ address: a, bytes, text: disassembleA64(word, a) });
    }
    return out;
  }

  set(name: string, value: FieldValue): void {
    if (this.setCap(name, value)) return;
    const v = checkSetting(this.arch, name, value);
    switch (name) {
      case "era":
        this.settings.era = v as Arm64Settings["era"];
        return;
      case "stepLimit":
        this.settings.stepLimit = v as number;
        return;
      case "granule":
        if (v !== this.settings.granule) {
          // A different host page size means a new, empty stage 2: every page faults in again.
          this.settings.granule = v as Arm64Settings["granule"];
          this.kvm.rebuildStage2();
        }
        return;
      case "pair_mmio":
        this.settings.pair_mmio = v as boolean;
        return;
      case "jit":
        this.settings.jit = v as boolean;
        this.engine.jit = v as boolean;
        return;
    }
  }


  setTrap(trap: TrapRequest, enabled: boolean): string {
    return applyTrap(this, trap, enabled);
  }

  view(name: string, arg?: string): MachineView {
    return machineView(this, name, arg);
  }
}

export function createArm64Machine(options: MachineOptions = {}): Arm64Machine {
  return new Arm64Machine(options);
}
