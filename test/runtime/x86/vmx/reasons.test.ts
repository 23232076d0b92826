import { describe, expect, it } from "vitest";
import { canonicalX86Reason } from "../../../../runtime/traces/events.js";
import { EXIT, EXIT_REASONS, exitReason, exitReasonTraceName } from "../../../../runtime/x86/vmx/reasons.js";
import { GPR32, GPR64 } from "../../../../runtime/x86/isa/types.js";
import { GPR32_NAMES, GPR64_NAMES, X86_REGISTER_NAMES } from "../../../../runtime/x86/registers.js";

describe("VMX exit reasons (SDM Vol. 3 Table C-1)", () => {
  it("EXIT has a number for every reason of the table, and only those", () => {
    expect(Object.keys(EXIT).length).toBe(EXIT_REASONS.length);
    for (const r of EXIT_REASONS) expect(EXIT[r.name as keyof typeof EXIT]).toBe(r.code);
    expect(new Set(EXIT_REASONS.map((r) => r.code)).size).toBe(EXIT_REASONS.length);
    // In the code, a misspelt reason is a compile error (tsconfig.test.json type-checks this file),
    // not an undefined that a Set or a handler table silently keeps.
    // @ts-expect-error CR_ACCES is not an exit reason
    expect(EXIT.CR_ACCES).toBeUndefined();
  });

  it("the reasons KVM's delivery check names are in the table (NOTIFY, 75; Linux uapi vmx.h)", () => {
    expect([EXIT.NOTIFY, EXIT.BUS_LOCK, EXIT.UMWAIT, EXIT.TPAUSE]).toEqual([75, 74, 67, 68]);
    expect(exitReason(75).name).toBe("NOTIFY");
    // Not in v4.1's VMX_EXIT_REASONS (printed as a number), named today.
    expect(exitReasonTraceName(75)).toBe("0x4b");
    expect(exitReasonTraceName(75, "today")).toBe("NOTIFY");
    expect(canonicalX86Reason("BUS_LOCK")).toEqual({ reason: "BUS_LOCK", code: 74 });
    expect(canonicalX86Reason("INTERRUPT_WINDOW")).toEqual({ reason: "PENDING_INTERRUPT", code: EXIT.PENDING_INTERRUPT });
  });
});

describe("x86 register names", () => {
  it("the machine's GPR names are the instruction set's lists, one copy", () => {
    expect(GPR64_NAMES).toBe(GPR64);
    expect(GPR32_NAMES).toBe(GPR32);
    expect(X86_REGISTER_NAMES.slice(0, 32)).toEqual([...GPR64, ...GPR32]);
  });
});
