import { describe, expect, test } from "vitest";
import { VMCS_FIELDS, Vmcs, lookupField, VmcsError } from "../../../../runtime/x86/vmx/fields.js";

// Independent facts: encodings as Linux arch/x86/include/asm/vmx.h (enum vmcs_field) spells them.
const LINUX: Record<string, number> = {
  GUEST_ES_SELECTOR: 0x800, HOST_TR_SELECTOR: 0xc0c, IO_BITMAP_A: 0x2000, MSR_BITMAP: 0x2004, EPT_POINTER: 0x201a,
  GUEST_PHYSICAL_ADDRESS: 0x2400, GUEST_IA32_EFER: 0x2806, PIN_BASED_VM_EXEC_CONTROL: 0x4000,
  CPU_BASED_VM_EXEC_CONTROL: 0x4002, EXCEPTION_BITMAP: 0x4004, VM_EXIT_CONTROLS: 0x400c, VM_ENTRY_CONTROLS: 0x4012,
  SECONDARY_VM_EXEC_CONTROL: 0x401e, VM_EXIT_REASON: 0x4402, VM_EXIT_INTR_INFO: 0x4404, VM_EXIT_INSTRUCTION_LEN: 0x440c,
  GUEST_CS_AR_BYTES: 0x4816, CR0_GUEST_HOST_MASK: 0x6000, CR4_READ_SHADOW: 0x6006, EXIT_QUALIFICATION: 0x6400,
  GUEST_LINEAR_ADDRESS: 0x640a, GUEST_CR0: 0x6800, GUEST_CR3: 0x6802, GUEST_RIP: 0x681e, HOST_RIP: 0x6c16,
};

describe("VMCS field table (SDM Vol. 3 Appendix B)", () => {
  test("encodings and names are unique and all are full (access type 0) encodings", () => {
    expect(new Set(VMCS_FIELDS.map((f) => f.encoding)).size).toBe(VMCS_FIELDS.length);
    expect(new Set(VMCS_FIELDS.map((f) => f.name)).size).toBe(VMCS_FIELDS.length);
    for (const f of VMCS_FIELDS) expect(f.encoding & 1, f.name).toBe(0);
  });

  test("encodings agree with Linux's vmx.h", () => {
    for (const [name, enc] of Object.entries(LINUX)) expect(lookupField(name).field.encoding, name).toBe(enc);
  });

  test("width follows encoding bits 14:13 and agrees with the field's kind", () => {
    const widths = [16, 64, 32, "natural"];
    for (const f of VMCS_FIELDS) {
      expect(f.width, f.name).toBe(widths[(f.encoding >> 13) & 3]);
      if (f.name.endsWith("_SELECTOR")) expect(f.width, f.name).toBe(16);
      if (f.name.endsWith("_LIMIT") || f.name.endsWith("_AR_BYTES") || f.name.endsWith("_CONTROL") || f.name.endsWith("CONTROLS")) expect(f.width, f.name).toBe(32);
      if (/^(GUEST|HOST)_(CR[034]|RIP|RSP|[A-Z]+_BASE)$/.test(f.name)) expect(f.width, f.name).toBe("natural");
    }
  });

  test("group follows encoding bits 11:10; control fields split into execution, exit and entry", () => {
    for (const f of VMCS_FIELDS) {
      const type = (f.encoding >> 10) & 3;
      const expected = ["control", "exit-info", "guest", "host"][type];
      if (expected === "control") expect(["exec", "exit", "entry"], f.name).toContain(f.group);
      else expect(f.group, f.name).toBe(expected);
      if (f.name.startsWith("GUEST_") && f.name !== "GUEST_PHYSICAL_ADDRESS" && f.name !== "GUEST_LINEAR_ADDRESS") expect(f.group, f.name).toBe("guest");
      if (f.name.startsWith("HOST_")) expect(f.group, f.name).toBe("host");
      if (f.name.startsWith("VM_ENTRY_")) expect(f.group, f.name).toBe("entry");
      if (f.name.startsWith("VM_EXIT_") && f.group !== "exit-info") expect(f.group, f.name).toBe("exit");
    }
    expect(lookupField("GUEST_PHYSICAL_ADDRESS").field.group).toBe("exit-info");
  });

  test("vmread/vmwrite truncate to the width; _HIGH reaches the upper half; unknown fields are errors", () => {
    const v = new Vmcs();
    v.write("GUEST_CS_SELECTOR", 0x12345);
    expect(v.read("GUEST_CS_SELECTOR")).toBe(0x2345n);
    v.write(0x4002, 0x1_0000_0001n);
    expect(v.read("CPU_BASED_VM_EXEC_CONTROL")).toBe(1n);
    v.write("EPT_POINTER", 0x1234_5678_9abc_def0n);
    expect(v.read("EPT_POINTER_HIGH")).toBe(0x1234_5678n);
    expect(v.read(0x201b)).toBe(0x1234_5678n);
    // VMREAD/VMWRITE operands and names a user typed go through vmread/vmwrite, checked at run time.
    v.vmwrite("guest_rip", 0xffff_ffff_ffff_ffffn);
    expect(v.read("GUEST_RIP")).toBe(0xffff_ffff_ffff_ffffn);
    expect(() => v.vmread("GUEST_CR7")).toThrow(VmcsError);
    // In the code, a misspelt field name is a compile error (tsconfig.test.json type-checks this file).
    // @ts-expect-error GUEST_CR7 is not a VMCS field
    expect(() => v.read("GUEST_CR7")).toThrow(VmcsError);
    expect(() => v.write(0x6801, 1)).toThrow(VmcsError); // natural-width fields have no high half
  });
});
