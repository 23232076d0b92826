// The ACPI tables of QEMU's pc machine (runtime/x86/acpi.ts) and its PIIX4 PM timer
// (runtime/devices/acpi-pm.ts): the tables' checksums and fields (ACPI 6.4 5.2.5.3, 5.2.7, 5.2.9,
// 5.2.10, 5.2.12), and a multiboot guest that finds them as kvm-unit-tests' lib/acpi.c does (scan
// 0xE0000-0xFFFFF by 16 bytes for "RSD PTR ", RSDT, FADT's PM_TMR_BLK) and reads the timer there:
// each read a KVM_EXIT_IO to the VMM, the count advancing at 3.579545 MHz of modelled time.

import { describe, expect, test } from "vitest";
import { acpiTables, ACPI_RSDP_ADDRESS, PM_TMR_BLK } from "../../../runtime/x86/acpi.js";
import { createMachine } from "../../../runtime/index.js";
import { assembleX86 } from "../../../runtime/x86/isa/index.js";
import type { X86Machine } from "../../../runtime/x86/machine.js";
import { exitCost } from "../../../runtime/x86/cost.js";
import { PM_TIMER_HZ } from "../../../runtime/devices/acpi-pm.js";

const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
const sum = (b: Uint8Array, n = b.length) => b.subarray(0, n).reduce((s, x) => (s + x) & 0xff, 0);
const sig = (b: Uint8Array, at = 0, n = 4) => String.fromCharCode(...b.subarray(at, at + n));

/** An ELF32 multiboot kernel (Multiboot header first) of `code` assembled at `base`. */
function multiboot(source: string, base = 0x40_0000): Uint8Array {
  const header = [0x1badb002, 0, -0x1badb002 >>> 0];
  const prog = assembleX86(`.code32\n.long ${header.join(", ")}\n${source}`, { base: BigInt(base), bits: 32 });
  const body = prog.bytes;
  const out = new Uint8Array(52 + 32 + body.length);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 3, true); // EM_386
  v.setUint32(24, Number(prog.symbols.get("start")!), true);
  v.setUint32(28, 52, true);
  v.setUint16(42, 32, true);
  v.setUint16(44, 1, true);
  v.setUint32(52, 1, true); // PT_LOAD
  v.setUint32(56, 84, true);
  v.setUint32(64, base, true);
  v.setUint32(68, body.length, true);
  v.setUint32(72, body.length, true);
  out.set(body, 84);
  return out;
}

describe("ACPI tables", () => {
  const tables = new Map(acpiTables(2));
  const at = (sigName: string) => [...tables].find(([, b]) => sig(b) === sigName || (sigName === "RSDP" && sig(b, 0, 8) === "RSD PTR "))!;

  test("RSDP in the BIOS area on a 16-byte boundary, checksummed, revision 0, pointing at the RSDT", () => {
    const [addr, rsdp] = at("RSDP");
    expect(addr).toBe(ACPI_RSDP_ADDRESS);
    expect(addr % 16).toBe(0);
    expect(addr >= 0xe0000 && addr < 0x100000).toBe(true);
    expect(sum(rsdp, 20)).toBe(0);
    expect(rsdp[15]).toBe(0);
    expect(sig(tables.get(u32(rsdp, 16))!)).toBe("RSDT");
  });

  test("every table sums to zero over its length; RSDT lists FADT and MADT; FADT has QEMU pc's PM blocks and the FACS", () => {
    for (const s of ["RSDT", "FACP", "APIC"]) {
      const [, t] = at(s);
      expect(u32(t, 4), s).toBe(t.length);
      expect(sum(t), s).toBe(0);
    }
    const [, rsdt] = at("RSDT");
    expect([sig(tables.get(u32(rsdt, 36))!), sig(tables.get(u32(rsdt, 40))!)]).toEqual(["FACP", "APIC"]);
    const [, fadt] = at("FACP");
    expect(fadt.length).toBe(116);
    expect([u32(fadt, 56), u32(fadt, 64), u32(fadt, 76)]).toEqual([0x600, 0x604, 0x608]);
    expect([fadt[88], fadt[89], fadt[91]]).toEqual([4, 2, 4]);
    const facsAt = u32(fadt, 36);
    expect(facsAt % 64).toBe(0);
    expect(sig(tables.get(facsAt)!)).toBe("FACS");
    expect(u32(tables.get(facsAt)!, 4)).toBe(64);
  });

  test("MADT: the local APIC address, one enabled Processor Local APIC per vCPU, the I/O APIC", () => {
    const [, madt] = at("APIC");
    expect(u32(madt, 36)).toBe(0xfee00000);
    expect([madt[44], madt[45], madt[47], madt[48]]).toEqual([0, 8, 0, 1]);
    expect([madt[52], madt[55]]).toEqual([0, 1]);
    expect([madt[60], madt[61], u32(madt, 64)]).toEqual([1, 12, 0xfec00000]);
  });
});

describe("the PM timer through a guest", () => {
  const GUEST = `
start:
  mov $0xe0000, %ebx
scan:
  cmpl $0x20445352, (%ebx)    /* "RSD " */
  jne next
  cmpl $0x20525450, 4(%ebx)   /* "PTR " */
  je found
next:
  add $16, %ebx
  cmp $0x100000, %ebx
  jb scan
  hlt
found:
  mov 16(%ebx), %eax          /* RSDT */
  mov 36(%eax), %eax          /* its first entry: the FADT */
  mov 76(%eax), %edx          /* PM_TMR_BLK */
  mov %edx, %ebp
  in (%dx), %eax
  mov %eax, %esi
  mov $100000, %ecx
1: dec %ecx
  jnz 1b
  in (%dx), %eax
  mov %eax, %edi
  mov $0xf4, %dx
  out %al, %dx
`;

  test("the guest finds PM_TMR_BLK = 0x608; two reads exit to the VMM; the count advances at 3.579545 MHz", () => {
    const m = createMachine("x86_64", { guest: { image: multiboot(GUEST), fileName: "pm.elf" }, settings: { era: "today" } }) as X86Machine;
    m.run({ maxSteps: 10_000_000 });
    expect(m.halted?.message).toMatch(/debug-exit/);
    expect(m.readRegister("rbp")).toBe(BigInt(PM_TMR_BLK));
    const io = m.exits.map((e) => e).filter((e) => e.reason === "IO_INSTRUCTION");
    // Two INs from 0x608, then the debug-exit OUT (the exit's decoded qualification, SDM Table 28-5).
    expect(io.map((e) => `${e.info["qual.direction"]} ${e.info["qual.port"]}`)).toEqual(["in 1544", "in 1544", "out 244"]);
    const delta = Number((m.readRegister("rdi") - m.readRegister("rsi")) & 0xffffffn);
    // Between the reads: the loop (2 × 100000 instructions + 3), and one IN exit's round trip.
    const cycles = 200_003 + exitCost("IO_INSTRUCTION").cycles;
    const expected = (cycles * PM_TIMER_HZ) / 1e9;
    expect(Math.abs(delta - expected)).toBeLessThan(3);
  });

  test("guests not booted as -kernel images have no PM block (ports 0x600-0x60b float)", () => {
    const m = createMachine("x86_64", { guest: { source: ".code32\nstart:\n mov $0x608, %dx\n in (%dx), %eax\n hlt\n" } }) as X86Machine;
    m.run({ maxSteps: 1000 });
    expect(m.readRegister("eax")).toBe(0xffffffffn);
  });
});
