// X86Cpu.wr, the compiled path's store (cpu.ts): after a slow write it fills a fast write entry for
// the page, unless the page holds decoded code for any vCPU of the machine (its peers), whose
// writes must reach every vCPU's codeWritten (the slow write itself tells them, through the
// machine's memory hook). The fill is on the hot path: no callback per fill.

import { describe, expect, test } from "vitest";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { X86Cpu } from "../../../runtime/x86/cpu.js";

/** The fast write table of a CPU (private fields, read for the test). */
const fastPages = (cpu: X86Cpu) => [...(cpu as unknown as { wKey: Float64Array | number[] }).wKey];

describe("X86Cpu.wr fast write entries", () => {
  test("a data page gets an entry; a store into another vCPU's code page reaches its codeWritten (its decoded code is dropped)", () => {
    // vCPU 0 runs the guest (its code page is decoded); vCPU 1 waits for a SIPI and writes nothing itself.
    const m = createX86Machine({ guest: { source: ".code32\nstart:\n  movl $1, data\n  hlt\n.align 4096\ndata: .long 0\n" }, settings: { vcpus: 2, stepLimit: 10_000 } });
    m.run();
    const [cpu0, cpu1] = m.vcpus.map((v) => v.cpu);
    const codeAddr = Number(m.symbols.get("start")!), dataAddr = Number(m.symbols.get("data")!);
    const codePage = Math.floor(codeAddr / 4096), dataPage = Math.floor(dataAddr / 4096);
    expect(codePage).not.toBe(dataPage);
    expect((cpu0 as unknown as { code: Map<number, unknown> }).code.has(codePage)).toBe(true);
    // vCPU 1 (real mode, DS base 0: linear = guest-physical) stores to both pages through wr.
    cpu1!.wr(3, dataAddr, 0, 4, 0x1234, 0);
    cpu1!.wr(3, codeAddr + 0x800, 0, 4, 0x5678, 0);
    expect(fastPages(cpu1!)).toContain(dataPage);
    expect((cpu0 as unknown as { code: Map<number, unknown> }).code.has(codePage)).toBe(false);
    expect([...m.readPhysical(dataAddr, 2)]).toEqual([0x34, 0x12]);
    expect([...m.readPhysical(codeAddr + 0x800, 2)]).toEqual([0x78, 0x56]);
  });

  test("the fill allocates no callback (a hot path: review finding)", () => {
    expect(X86Cpu.prototype.wr.toString()).not.toMatch(/=>/);
  });
});
