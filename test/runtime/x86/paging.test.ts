// Guest paging walks against hand-built tables (SDM Vol. 3 4.3-4.5) and #PF error codes (4.7).

import { describe, expect, test } from "vitest";
import { GuestMemory } from "../../../runtime/core/memory.js";
import { translate, pagingMode } from "../../../runtime/x86/paging.js";
import { multibootState, CR0, CR4, EFER, GuestFault } from "../../../runtime/x86/state.js";

function setup() {
  const mem = new GuestMemory();
  mem.addRegion({ name: "ram", base: 0, size: 16 << 20 });
  const s = multibootState(0n);
  const reads: number[] = [];
  const reader = (gpa: number, size: 4 | 8) => (reads.push(gpa), mem.read(gpa, size));
  return { mem, s, reads, reader };
}

const R = { write: false, fetch: false, user: false };
const W = { write: true, fetch: false, user: false };

function pfCode(f: () => unknown): number {
  try {
    f();
  } catch (e) {
    if (e instanceof GuestFault && e.vector === 14) return e.errorCode!;
    throw e;
  }
  throw new Error("no #PF");
}

describe("guest paging", () => {
  test("paging off: linear = physical", () => {
    const { s, reader, reads } = setup();
    expect(pagingMode(s)).toBe("none");
    expect(translate(s, 0x1234n, R, reader).gpa).toBe(0x1234);
    expect(reads).toEqual([]);
  });

  test("4-level with a 2 MiB page reads PML4, PDPT, PD entries at the right addresses", () => {
    const { mem, s, reader, reads } = setup();
    mem.write(0x1000, 8, 0x2000n | 3n);
    mem.write(0x2000, 8, 0x3000n | 3n);
    mem.write(0x3000 + 2 * 8, 8, 0x400000n | 0x83n); // PD[2]: 2 MiB page at 4 MiB, RW
    s.cr0 |= CR0.PG;
    s.cr4 |= CR4.PAE;
    s.efer |= EFER.LME | EFER.LMA;
    s.cr3 = 0x1000n;
    expect(pagingMode(s)).toBe("4level");
    expect(translate(s, 0x412345n, R, reader).gpa).toBe(0x412345);
    expect(reads).toEqual([0x1000, 0x2000, 0x3010]);
  });

  test("4-level 4 KiB page, read-only: a supervisor write faults only with CR0.WP", () => {
    const { mem, s, reader } = setup();
    mem.write(0x1000, 8, 0x2000n | 3n);
    mem.write(0x2000, 8, 0x3000n | 3n);
    mem.write(0x3000, 8, 0x4000n | 3n);
    mem.write(0x4000 + 5 * 8, 8, 0x9000n | 1n); // PT[5]: read-only
    s.cr0 |= CR0.PG;
    s.cr4 |= CR4.PAE;
    s.efer |= EFER.LME | EFER.LMA;
    s.cr3 = 0x1000n;
    expect(translate(s, 0x5abcn, W, reader).gpa).toBe(0x9abc);
    s.cr0 |= CR0.WP;
    expect(pfCode(() => translate(s, 0x5abcn, W, reader))).toBe(0b00011); // P | W
    expect(pfCode(() => translate(s, 0x6000n, R, reader))).toBe(0); // not present, read
    // I/D is set only with EFER.NXE or CR4.SMEP (SDM Vol. 3 4.7).
    expect(pfCode(() => translate(s, 0x6000n, { write: false, fetch: true, user: true }, reader))).toBe(0b00100);
    s.efer |= EFER.NXE;
    expect(pfCode(() => translate(s, 0x6000n, { write: false, fetch: true, user: true }, reader))).toBe(0b10100);
    expect(() => translate(s, 0x0000_8000_0000_0000n, R, reader)).toThrow(GuestFault); // non-canonical: #GP
  });

  test("reserved bits end the walk with #PF P|RSVD (SDM Vol. 3 4.5.4, 4.7): XD without NXE, above MAXPHYADDR, large-page alignment, PML4E.PS", () => {
    const { mem, s, reader } = setup();
    mem.write(0x1000, 8, 0x2000n | 3n);
    mem.write(0x2000, 8, 0x3000n | 3n);
    mem.write(0x3000, 8, 0x4000n | 3n);
    mem.write(0x4000 + 5 * 8, 8, 0x9000n | 3n);
    s.cr0 |= CR0.PG;
    s.cr4 |= CR4.PAE;
    s.efer |= EFER.LME | EFER.LMA;
    s.cr3 = 0x1000n;
    expect(translate(s, 0x5000n, R, reader).gpa).toBe(0x9000);
    const pte = (v: bigint) => mem.write(0x4000 + 5 * 8, 8, v);
    pte(0x9000n | 3n | (1n << 63n)); // XD while EFER.NXE = 0: reserved
    expect(pfCode(() => translate(s, 0x5000n, R, reader))).toBe(0b01001);
    expect(pfCode(() => translate(s, 0x5000n, W, reader))).toBe(0b01011);
    s.efer |= EFER.NXE; // now XD: readable, not executable
    expect(translate(s, 0x5000n, R, reader).executable).toBe(false);
    pte(0x9000n | 3n | (1n << 51n)); // above MAXPHYADDR (39)
    expect(pfCode(() => translate(s, 0x5000n, R, reader))).toBe(0b01001);
    pte(0x9000n | 3n | (1n << 36n)); // below MAXPHYADDR: an address bit
    expect(translate(s, 0x5000n, R, reader).gpa).toBe(0x10_0000_9000);
    pte(0x9000n | 3n);
    mem.write(0x3000 + 8, 8, 0x200000n | 0x83n | (1n << 13n)); // 2 MiB page with bit 13 set
    expect(pfCode(() => translate(s, 0x200000n, R, reader))).toBe(0b01001);
    mem.write(0x1000, 8, 0x2000n | 0x83n); // PML4E.PS
    expect(pfCode(() => translate(s, 0x5000n, R, reader))).toBe(0b01001);
  });

  test("a successful walk sets accessed flags, and a write sets the leaf's dirty flag (SDM 4.8)", () => {
    const { mem, s, reader } = setup();
    mem.write(0x1000, 8, 0x2000n | 3n);
    mem.write(0x2000, 8, 0x3000n | 3n);
    mem.write(0x3000, 8, 0x4000n | 3n);
    mem.write(0x4000, 8, 0x9000n | 3n);
    s.cr0 |= CR0.PG;
    s.cr4 |= CR4.PAE;
    s.efer |= EFER.LME | EFER.LMA;
    s.cr3 = 0x1000n;
    const writer = (gpa: number, size: 4 | 8, v: bigint) => mem.write(gpa, size, v);
    expect(translate(s, 0x123n, R, reader, writer).dirty).toBe(false);
    for (const t of [0x1000, 0x2000, 0x3000, 0x4000]) expect(mem.read(t, 8) & 0x60n, `entry at ${t}`).toBe(0x20n);
    expect(translate(s, 0x123n, W, reader, writer).dirty).toBe(true);
    expect(mem.read(0x4000, 8) & 0x60n).toBe(0x60n);
    expect(mem.read(0x3000, 8) & 0x40n).toBe(0n); // only the leaf gets D
    // A faulting walk sets nothing.
    mem.write(0x4008, 8, 0xa000n | 1n);
    s.cr0 |= CR0.WP;
    expect(() => translate(s, 0x1000n, W, reader, writer)).toThrow(GuestFault);
    expect(mem.read(0x4008, 8) & 0x60n).toBe(0n);
  });

  test("32-bit paging with a 4 MiB PSE page, and PAE with its PDPT", () => {
    const { mem, s, reader } = setup();
    mem.write(0x1000 + 1 * 4, 4, 0x400000n | 0x83n);
    s.cr0 |= CR0.PG;
    s.cr4 |= CR4.PSE;
    s.cr3 = 0x1000n;
    expect(pagingMode(s)).toBe("32bit");
    expect(translate(s, 0x7fffffn, R, reader).gpa).toBe(0x7fffff);
    const p = setup();
    p.mem.write(0x1000, 8, 0x2000n | 1n); // PDPTE[0]
    p.mem.write(0x2000 + 2 * 8, 8, 0x400000n | 0x83n); // 2 MiB page
    p.s.cr0 |= CR0.PG;
    p.s.cr4 |= CR4.PAE;
    p.s.cr3 = 0x1000n;
    expect(pagingMode(p.s)).toBe("pae");
    expect(translate(p.s, 0x400010n, R, p.reader).gpa).toBe(0x400010);
    expect(p.reads).toEqual([0x1000, 0x2010]);
  });
});
