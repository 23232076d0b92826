// An IRET that ends blocking by NMI and then meets an EPT violation (its stack page unmapped: here
// by pc-testdev's flush-page port, as kvm-unit-tests' eventinj does): the exit qualification says
// "NMI unblocking due to IRET" (bit 12, Intel SDM Vol. 3 27.2.3) and KVM's handle_ept_violation
// blocks NMIs again before the IRET runs once more (Linux vmx.c, v4.1 and today), so an NMI that
// was pending in the handler arrives after the IRET, not on it.

import { expect, test } from "vitest";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { withFixtures } from "./fixtures/index.js";

const SRC = `.code32
start:
  mov $0x7000000, %esp
  lgdt gdtr
  lidt idtr
  movl $0x40400, 0xfee00300  /* NMI to self */
back:
  cmpl $2, count
  jb back
  mov $0xf4, %dx
  out %al, %dx
nmi:
  incl count
  cmpl $1, count
  jne second
  movl $0x40400, 0xfee00300  /* a second NMI, held while this one is blocked */
  mov %esp, %eax
  out %eax, $0xe4            /* pc-testdev: unmap the stack page (EPT) */
iretat:
  iret
second:
  mov (%esp), %eax           /* where the second NMI came in */
  mov %eax, seen
  iret
  flat_gdt_idt 2, nmi
count:
  .long 0
seen:
  .long 0
`;

for (const era of ["2015", "today"] as const) {
  test(`era ${era}: the EPT violation on IRET's stack reports NMI unblocking (bit 12); NMIs are blocked again, so the second NMI interrupts the code after the IRET`, () => {
    const m = createX86Machine({ guest: { source: withFixtures(SRC) }, devices: ["pc-testdev"], settings: { era } });
    m.run({ maxSteps: 200_000 });
    expect(m.halted?.message).toMatch(/isa-debug-exit/);
    const word = (sym: string) => new DataView(m.readPhysical(Number(m.symbols.get(sym)!), 4).buffer).getUint32(0, true);
    expect(word("count")).toBe(2);
    const seen = word("seen");
    expect(seen).not.toBe(Number(m.symbols.get("iretat")));
    expect(seen >= Number(m.symbols.get("back")) && seen < Number(m.symbols.get("nmi"))).toBe(true);
    const iretRip = m.symbols.get("iretat")!;
    const v = m.exits.map((e) => e).find((e) => e.reason === "EPT_VIOLATION" && e.pc === iretRip);
    expect(v, "an EPT violation at the IRET").toBeDefined();
    expect((Number(v!.info.exit_qualification) >> 12) & 1).toBe(1);
  });
}
