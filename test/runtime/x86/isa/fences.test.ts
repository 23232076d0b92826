// 0F AE F8 is SFENCE only without a 66, F2 or F3 prefix (Intel SDM Vol. 2B SFENCE: "NP 0F AE F8").
// 66 0F AE F8 was PCOMMIT, withdrawn before any CPU shipped it (Linux v4.9 "KVM: x86: remove
// support for PCOMMIT"); QEMU 7.2's TCG raises #UD for it without CPUID.7.0:EBX.PCOMMIT
// (target/i386/tcg/translate.c case 0xf8), and the modelled CPUs have none (kvm/cpuid.ts).

import { describe, expect, test } from "vitest";
import { decodeX86 } from "../../../../runtime/x86/isa/index.js";
import { createX86Machine } from "../../../../runtime/x86/machine.js";

const sem = (bytes: number[]) => decodeX86((i) => bytes[i] ?? 0, "long64").spec.sem;

describe("0F AE F8 and its prefixes", () => {
  test("0F AE F8 is SFENCE (a no-op here); with 66, F2 or F3 it is #UD", () => {
    expect(sem([0x0f, 0xae, 0xf8])).toBe("nop");
    expect(decodeX86((i) => [0x0f, 0xae, 0xf8][i] ?? 0, "long64").spec.mnemonic).toBe("sfence");
    for (const p of [0x66, 0xf2, 0xf3]) expect(sem([p, 0x0f, 0xae, 0xf8]), p.toString(16)).toBe("ud");
  });

  test("a guest running 66 0F AE F8 takes #UD (KVM intercepts #UD and reflects it)", () => {
    const run = (insn: string) => {
      const m = createX86Machine({ guest: { source: `.code32\nstart:\n${insn}\nhlt\n` }, settings: { stepLimit: 10_000 } });
      m.run();
      return m.exits.map((e) => e.reason);
    };
    expect(run(".byte 0x66, 0x0f, 0xae, 0xf8")).toContain("EXCEPTION_NMI");
    expect(run("sfence")).not.toContain("EXCEPTION_NMI");
  });
});
