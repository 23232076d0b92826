import { describe, expect, test } from "vitest";
import { Ept, HostMemory, EPT_READ, EPT_RWX, EPT_WRITE } from "../../../../runtime/x86/vmx/ept.js";

describe("EPT (SDM Vol. 3 28.2)", () => {
  test("an empty EPT misses at the PML4; a mapped page translates with its permissions", () => {
    const ept = Ept.create(new HostMemory());
    expect(ept.walk(0x400123, "fetch")).toMatchObject({ ok: false, perms: 0, missingLevel: 4 });
    ept.map4k(0x400000, 0x400000, EPT_RWX);
    expect(ept.walk(0x400123, "fetch")).toMatchObject({ ok: true, hpa: 0x400123, perms: 7 });
    // A neighbour in the same page table is still missing at level 1.
    expect(ept.walk(0x401000, "read")).toMatchObject({ ok: false, missingLevel: 1 });
  });

  test("a read-only page violates on write and reports the translation's permissions", () => {
    const ept = Ept.create(new HostMemory());
    ept.map4k(0x5000, 0x9000, EPT_READ);
    expect(ept.walk(0x5008, "read")).toMatchObject({ ok: true, hpa: 0x9008 });
    expect(ept.walk(0x5008, "write")).toMatchObject({ ok: false, perms: EPT_READ, misconfig: false });
  });

  test("write-without-read is a misconfiguration (KVM's MMIO spte)", () => {
    const ept = Ept.create(new HostMemory());
    ept.markMmio(0xd000_0004);
    expect(ept.walk(0xd000_0000, "read")).toMatchObject({ ok: false, misconfig: true });
    expect(ept.mappings().map(([g]) => g)).toEqual([0xd000_0000]);
  });

  test("EPTP: write-back, 4-level walk", () => {
    const ept = Ept.create(new HostMemory());
    expect(Number(ept.eptp & 7n)).toBe(6);
    expect(Number((ept.eptp >> 3n) & 7n)).toBe(3);
  });

  test("the leaf cache (a direct-mapped front of 32768 slots over a Map): frames sharing a slot, flushes and a cleared Map give what a walk gives", () => {
    const ept = Ept.create(new HostMemory());
    const PAGE = 4096, SLOTS = 32768;
    // Frames 0x400 and 0x400 + SLOTS share a slot; each maps elsewhere, the second read-only.
    ept.map4k(0x400 * PAGE, 0x9000 * PAGE, EPT_RWX);
    ept.map4k((0x400 + SLOTS) * PAGE, 0xa000 * PAGE, EPT_READ);
    expect(ept.cachedHostPage(0x400, EPT_READ)).toBe(-1); // the maps flushed: nothing cached yet
    expect(ept.walk(0x400 * PAGE + 8, "write")).toMatchObject({ ok: true, hpa: 0x9000 * PAGE + 8 });
    expect(ept.walk((0x400 + SLOTS) * PAGE + 8, "read")).toMatchObject({ ok: true, hpa: 0xa000 * PAGE + 8 });
    for (let k = 0; k < 3; k++) {
      expect(ept.cachedHostPage(0x400, EPT_WRITE)).toBe(0x9000 * PAGE);
      expect(ept.cachedHostPage(0x400 + SLOTS, EPT_READ)).toBe(0xa000 * PAGE);
      expect(ept.cachedHostPage(0x400 + SLOTS, EPT_WRITE)).toBe(-1);
    }
    ept.flush();
    expect(ept.cachedHostPage(0x400, EPT_READ)).toBe(-1);
    // More than 4096 entries, then a flush empties the Map (and the front with it): walks refill both.
    for (let g = 0; g < 5000; g++) ept.map4k((0x10000 + g) * PAGE, (0x20000 + g) * PAGE, EPT_RWX);
    for (let g = 0; g < 5000; g++) expect(ept.walk((0x10000 + g) * PAGE, "read").hpa).toBe((0x20000 + g) * PAGE);
    expect(ept.cachedHostPage(0x10000 + 4999, EPT_READ)).toBe((0x20000 + 4999) * PAGE);
    ept.flush();
    for (let g = 0; g < 5000; g += 7) expect(ept.cachedHostPage(0x10000 + g, EPT_READ)).toBe(-1);
    expect(ept.walk((0x400 + SLOTS) * PAGE, "read")).toMatchObject({ ok: true, hpa: 0xa000 * PAGE });
    expect(ept.cachedHostPage(0x400 + SLOTS, EPT_READ)).toBe(0xa000 * PAGE);
    expect(ept.cachedHostPage(0x400, EPT_READ)).toBe(-1);
    expect(ept.walk(0x400 * PAGE, "read")).toMatchObject({ ok: true, hpa: 0x9000 * PAGE });
    expect(ept.cachedHostPage(0x400, EPT_READ)).toBe(0x9000 * PAGE);
  });
});
