import { describe, expect, test } from "vitest";
import { Ept, HostMemory, EPT_READ, EPT_RWX } from "../../../../runtime/x86/vmx/ept.js";

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
});
