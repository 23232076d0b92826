// The interrupt round trip on Numbers: delivery of an event through a 64-bit IDT gate and IRETQ
// back, in the case every interrupt of a kernel at CPL 0 takes — 64-bit mode, CPL 0 before and
// after, no stack switch (no IST), CS and SS reloaded with the descriptors they already hold —
// and only when every byte involved (the gate, the GDT descriptors, the stack frame) is in the
// CPU's data TLB (cpu-memory.ts rKey/wKey: RAM pages any supervisor access may reuse, accessed and, for
// writes, dirty already). Then the general paths (delivery.ts pushFrame, semantics/control.ts
// iret) would walk nothing, fault nowhere and change nothing else, so these give the same
// registers and memory without a BigInt. Anything else returns false before changing state, and
// the general path runs. The rules are the general paths' own (SDM Vol. 3 6.14.1-6.14.2
// "64-Bit Mode IDT", "64-Bit Mode Stack Frame"; Vol. 2 IRET, its IA-32e branch; Vol. 3 5.4-5.6
// for the descriptor checks loadSegment makes).

import type { X86Regs } from "./regs.js";

/** The CPU's data TLB and stores as the fast paths use them (X86Cpu). */
export interface FastEventCpu {
  readonly state: X86Regs;
  readonly rKey: Float64Array;
  readonly rArr: (Uint8Array | null)[];
  readonly wKey: Float64Array;
  /** KVM's emulator is running an instruction (its accesses take the general path). */
  readonly emulating: unknown;
  /** A store of `size` bytes at seg:offset (FastMem.wr: its TLB hit writes the page and tells a foreign write listener). */
  wr(seg: number, lo: number, hi: number, size: number, vlo: number, vhi: number): void;
}

const TWO32 = 4294967296;
/** SEG_ORDER's index of SS (isa/types.ts: es cs ss ds fs gs). */
const SS = 2;
/** RFLAGS bits delivery through a gate clears (SDM Vol. 3 6.12.1.3): TF, NT, RF, VM; an interrupt gate also IF. */
const GATE_CLEARS = (1 << 8) | (1 << 14) | (1 << 16) | (1 << 17);
const RFLAGS_IF = 1 << 9;
/** What IRET loads from the frame's RFLAGS at CPL 0 with a 64-bit operand size (control.ts POPF_WRITABLE | RF). */
const IRET_WRITABLE = 0x4_0000 | 0x7fd5 | 0x20_0000 | 0x1_0000;

/** The direct-mapped slot of a linear page in the data TLB (cpu-memory.ts rd/wr). */
const slot = (page: number): number => (page ^ (page >>> 8)) & 255;

/** The bytes of a RAM page the read TLB maps `lin`'s page to, when `size` bytes at `lin` stay in it; else null. */
function readPage(cpu: FastEventCpu, lin: number, size: number): Uint8Array | null {
  const page = Math.floor(lin / 4096);
  if (lin - page * 4096 + size > 4096) return null;
  const i = slot(page);
  return cpu.rKey[i] === page ? cpu.rArr[i]! : null;
}

/** Whether the write TLB maps the 8 bytes at `lin` (their page has a write entry). */
function writable8(cpu: FastEventCpu, lin: number): boolean {
  const page = Math.floor(lin / 4096);
  return lin - page * 4096 + 8 <= 4096 && cpu.wKey[slot(page)] === page;
}

/** IRET's frame as 32-bit halves (scratch). */
const FRAME = new Uint32Array(10);

const u32 = (a: Uint8Array, o: number): number => (a[o]! | (a[o + 1]! << 8) | (a[o + 2]! << 16) | (a[o + 3]! << 24)) >>> 0;

/** A canonical linear address as the data TLB keys it (FastMem's signed Number), or NaN. */
function canonical(lo: number, hi: number): number {
  const lin = (hi | 0) * TWO32 + (lo >>> 0);
  return lin >= 0x8000_0000_0000 || lin < -0x8000_0000_0000 ? NaN : lin;
}

/** A linear base held as a BigInt (IDTR, GDTR), as the data TLB keys it. */
const baseOf = (b: bigint): number => Number(BigInt.asIntN(64, b));

/**
 * Whether loading `selector` into CS (code) or SS (not code) would leave the register as it is:
 * the GDT descriptor is in the data TLB, passes loadSegment's checks (SDM Vol. 3 5.4-5.6: a
 * GDT selector within the limit; S set; CS code, SS writable data; present) and equals what the
 * register holds (base, limit, attributes with the accessed bit). A null SS selector is loadable
 * in 64-bit mode and gives base 0, limit 0, attributes "unusable".
 */
function reloadsSame(s: X86Regs, seg: "cs" | "ss", selector: number): boolean {
  const cur = s.seg[seg];
  if (cur.selector !== selector) return false;
  const index = selector & ~7;
  if (index === 0) return seg === "ss" && cur.base === 0n && cur.limit === 0 && cur.attributes === 1 << 16;
  return (selector & 4) === 0 && index + 7 <= s.gdtr.limit;
}

function descriptorSame(cpu: FastEventCpu, seg: "cs" | "ss", selector: number): boolean {
  const s = cpu.state;
  if (!reloadsSame(s, seg, selector)) return false;
  const index = selector & ~7;
  if (index === 0) return true;
  const lin = baseOf(s.gdtr.base) + index;
  const a = readPage(cpu, lin, 8);
  if (a === null) return false;
  const off = lin - Math.floor(lin / 4096) * 4096;
  const lo = u32(a, off), hi = u32(a, off + 4);
  const access = (hi >>> 8) & 0xff;
  const attributes = access | (((hi >>> 20) & 0xf) << 12);
  if ((access & 0x10) === 0 || (access & 0x80) === 0) return false;
  const code = (access & 8) !== 0;
  if (seg === "cs" ? !code : code || (access & 2) === 0) return false;
  let limit = (lo & 0xffff) | (hi & 0xf0000);
  if (attributes & 0x8000) limit = ((limit << 12) | 0xfff) >>> 0;
  const base = ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff00_0000)) >>> 0;
  const cur = s.seg[seg];
  return cur.limit === limit && cur.attributes === (attributes | 1) && cur.base === BigInt(base);
}

/**
 * Deliver `vector` through its 64-bit interrupt or trap gate from CPL 0 to CPL 0 without IST
 * (SDM Vol. 3 6.14.2): push SS, RSP, RFLAGS, CS, the return RIP and `code` (when the vector has
 * an error code) on the 16-byte-aligned stack, jump to the gate's target, clear TF/NT/RF/VM
 * (and IF through an interrupt gate). `returnRip`: the address the frame returns to (undefined:
 * rip). Returns false, having changed nothing, when the case or the data TLB does not allow it.
 */
export function fastPushFrame64(cpu: FastEventCpu, vector: number, code: number | undefined, returnRip: bigint | undefined): boolean {
  const s = cpu.state;
  if (s.mode !== "long64" || cpu.emulating || (s.seg.cs.selector & 3) !== 0) return false;
  if (vector * 16 + 15 > s.idtr.limit) return false;
  const gateLin = baseOf(s.idtr.base) + vector * 16;
  const g = readPage(cpu, gateLin, 16);
  if (g === null) return false;
  const go = gateLin - Math.floor(gateLin / 4096) * 4096;
  const w0 = u32(g, go), w1 = u32(g, go + 4), w2 = u32(g, go + 8);
  const type = (w1 >>> 8) & 0xf;
  if ((w1 & 0x8000) === 0 || (type !== 0xe && type !== 0xf) || (w1 & 7) !== 0) return false;
  const selector = w0 >>> 16;
  const targetLo = ((w0 & 0xffff) | (w1 & 0xffff_0000)) >>> 0;
  const target = canonical(targetLo, w2);
  if (target !== target) return false;
  // The gate's code segment at CPL 0 (the DPL of its descriptor, which must equal the current CS's).
  if (!descriptorSame(cpu, "cs", selector)) return false;
  const r = s.r;
  const rspLo = r[4]!, rspHi = r[20]!;
  const spLo = (rspLo & ~0xf) >>> 0;
  const sp = canonical(spLo, rspHi);
  const slots = code !== undefined ? 6 : 5;
  if (sp !== sp || !writable8(cpu, sp - 8) || !writable8(cpu, sp - 8 * slots)) return false;
  let ripLo: number, ripHi: number;
  if (returnRip === undefined) (ripLo = s.pc >>> 0), (ripHi = Math.floor(s.pc / TWO32) | 0);
  else (ripLo = Number(returnRip & 0xffff_ffffn)), (ripHi = Number((returnRip >> 32n) & 0xffff_ffffn) | 0);
  const fl = s.flags();
  // The frame, highest address first (the general path's order: SS, RSP, RFLAGS, CS, RIP, code).
  // (sp is 16-byte aligned, so no store crosses a page, and the two ends' pages cover all six.)
  const at = (k: number): number => sp - 8 * k;
  const put = (k: number, lo: number, hi: number): void => {
    const lin = at(k);
    cpu.wr(SS, lin >>> 0, Math.floor(lin / TWO32) | 0, 8, lo | 0, hi | 0);
  };
  put(1, s.seg.ss.selector, 0);
  put(2, rspLo, rspHi);
  put(3, fl, 0);
  put(4, s.seg.cs.selector, 0);
  put(5, ripLo, ripHi);
  if (code !== undefined) put(6, code, 0);
  const top = at(slots);
  r[4] = top | 0;
  r[20] = Math.floor(top / TWO32) | 0;
  s.pc = target;
  s.fl = ((fl & ~(GATE_CLEARS | (type === 0xe ? RFLAGS_IF : 0))) | 2) >>> 0;
  s.cc = 0;
  return true;
}

/**
 * IRETQ in 64-bit mode from CPL 0 back to CPL 0 (SDM Vol. 2 IRET, IA-32e mode): pop RIP, CS,
 * RFLAGS, RSP and SS, the CS and SS selectors the ones the registers hold (and their
 * descriptors unchanged), RIP canonical; end blocking by NMI. Sets state.npc; returns false,
 * having changed nothing, otherwise.
 */
export function fastIret64(cpu: FastEventCpu, operandSize: number): boolean {
  const s = cpu.state;
  if (s.mode !== "long64" || operandSize !== 8 || cpu.emulating || (s.seg.cs.selector & 3) !== 0) return false;
  const r = s.r;
  const sp = canonical(r[4]!, r[20]!);
  if (sp !== sp) return false;
  // Five quadwords from SS:RSP up (no stack alignment check in 64-bit mode), each in the TLB.
  const q = FRAME;
  for (let k = 0; k < 5; k++) {
    const lin = sp + 8 * k;
    if (lin >= 0x8000_0000_0000) return false;
    const a = readPage(cpu, lin, 8);
    if (a === null) return false;
    const o = lin - Math.floor(lin / 4096) * 4096;
    q[2 * k] = u32(a, o);
    q[2 * k + 1] = u32(a, o + 4);
  }
  const ripLo = q[0]!, ripHi = q[1]!, cs = q[2]! & 0xffff, fl = q[4]!, rspLo = q[6]!, rspHi = q[7]!, ss = q[8]! & 0xffff;
  const rip = canonical(ripLo, ripHi);
  if (rip !== rip || (cs & 3) !== 0) return false;
  if (!descriptorSame(cpu, "cs", cs) || !descriptorSame(cpu, "ss", ss)) return false;
  s.iretUnblockedNmi = s.nmiBlocked === true;
  s.nmiBlocked = false;
  r[4] = rspLo | 0;
  r[20] = rspHi | 0;
  s.fl = ((s.flags() & ~IRET_WRITABLE) | (fl & IRET_WRITABLE) | 2) >>> 0;
  s.cc = 0;
  s.npc = rip;
  return true;
}

/**
 * Instructions on the BigInt semantics that change none of the guest-state registers the VM
 * exit compares beyond RIP, RSP and RFLAGS (vmx/guest-state.ts), or change them only through
 * X86Cpu.loadSegment, which bumps the CPU's systemVersion itself: after them the interpreter
 * need not (machine-run.ts execOne). IRET (RIP, CS, RFLAGS, RSP, SS: SDM Vol. 2 IRET), RDTSC
 * (EDX:EAX), RDTSCP (EDX:EAX, ECX), and the flag instructions (semantics/system.ts flagop: CMC,
 * CLC, STC, CLI, STI, CLD, STD, CLAC, STAC change RFLAGS only, STI also its interrupt shadow,
 * which the save does not compare: SDM Vol. 2 CLI, STI, CLAC, STAC).
 */
const SYSTEM_NEUTRAL: ReadonlySet<string> = new Set(["iret", "rdtsc", "rdtscp", "flagop"]);

/** The x2APIC MSRs (SDM Vol. 3 Table 11-6: 0x800-0x8FF): a WRMSR that reached one without an exit changed only the APIC. */
const X2APIC_MSR_FIRST = 0x800, X2APIC_MSR_LAST = 0x8ff;

/**
 * Whether `sem`, just run on the BigInt semantics with `r` the GPR halves after it, left the
 * system state alone (SYSTEM_NEUTRAL, or a WRMSR to an x2APIC MSR: ECX is unchanged by it).
 */
export function leftSystemState(sem: string, r: Int32Array): boolean {
  if (sem === "wrmsr") return r[1]! >>> 0 >= X2APIC_MSR_FIRST && r[1]! >>> 0 <= X2APIC_MSR_LAST;
  return SYSTEM_NEUTRAL.has(sem);
}

/** Whether a delivery or semantics environment is an X86Cpu with the data TLB these paths read. */
export function hasFastEvents(c: object): c is FastEventCpu {
  return "rKey" in c && "wKey" in c && "wr" in c && "state" in c && "r" in (c as { state: object }).state;
}
