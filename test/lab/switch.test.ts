// The world switch through Lab.run: `set model nvhe|vhe`, `compare` of the same guest under both,
// `show switch`, `show costs`, and a bad model getting a clear error.
import { describe, expect, test } from "vitest";
import { Lab } from "../../lab/index.js";
import { renderAllText } from "../../lab/render/text.js";

const GUEST = "asm { start: ldr x0, =0x84000000; hvc #0; ldr x0, =0x84000000; hvc #0; ldr x0, =0x84000008; hvc #0 }";

describe("set model, compare, show switch, show costs", () => {
  test("the same guest under nvhe and vhe: same trace, the switch per exit differs in instructions, system-register accesses and cycles", async () => {
    const lab = await Lab.create();
    const out = renderAllText(lab.run(`set arch arm64\nset model nvhe\nvm boot ${GUEST} as n\nrun\nvm boot ${GUEST} as v\nset model vhe for v\nrun\ncompare n v`));
    expect(out).toContain("model = vhe");
    const m = /trap\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(-\d+)\s+(-\d+)\s+(-\d+)/.exec(out)!;
    expect(m, out).not.toBeNull();
    const [, ni, ns, nc, vi, vs, vc] = m.slice(0, 7).map(Number);
    expect(vi).toBeLessThan(ni!);
    expect(vs).toBeLessThan(ns!);
    expect(vc).toBeLessThan(nc!);
    expect(Number(m[9])).toBe(vc! - nc!);
    // The guest-visible behaviour and KVM's events are the same; only the modelled cycles differ.
    lab.run("use n");
    const tn = lab.machine!.trace.lines();
    lab.run("use v");
    expect(lab.machine!.trace.lines()).toEqual(tn);
  });

  test("compare of two VMs that switch the same way adds nothing (existing outputs stay as they were)", async () => {
    const lab = await Lab.create();
    const out = renderAllText(lab.run(`vm boot arm64 ${GUEST} as a\nrun\nvm boot arm64 ${GUEST} as b\nrun\ncompare a b`));
    expect(out).not.toContain("world switch per exit");
  });

  test("show switch lists what the last exit's switch saved and restored; show costs prints model vs paper", async () => {
    const lab = await Lab.create();
    const out = renderAllText(lab.run(`vm boot arm64 ${GUEST}\nrun\nshow switch\nshow costs`));
    expect(out).toMatch(/world switch of exit 3 \(HVC64\): nVHE/);
    expect(out).toMatch(/exit\s+save_guest_sysregs\s+38\s+25\s+0/);
    expect(out).toContain("SCTLR_EL1→");
    expect(out).toContain("→VTTBR_EL2");
    const row = /Hypercall, KVM ARM \(non-VHE, X-Gene, GICv2\)\s+arm64 model nvhe, era 2015, gic v2\s+6500\s+(\d+)\s+(-?\d+)%/.exec(out)!;
    expect(row, out).not.toBeNull();
    expect(Math.abs(Number(row[2]))).toBeLessThanOrEqual(20);
  });

  test("a bad model is an error naming the place and the values", async () => {
    const lab = await Lab.create();
    const out = renderAllText(lab.run("vm boot arm64\nset model vhf"));
    expect(out).toMatch(/line 2/);
    expect(out).toMatch(/nvhe or vhe/);
    const x86 = renderAllText(lab.run("vm boot x86_64 as i\nset model vhe for i"));
    expect(x86).toMatch(/unknown x86 setting model|arm64/);
  });

  test("x86 show switch: what VMX moves through the VMCS vs what KVM moves by hand, from the fields the model stores and loads", async () => {
    const lab = await Lab.create();
    const out = renderAllText(lab.run("vm boot x86_64\nrun\nshow switch"));
    expect(out).toMatch(/VM exit\s+processor \(VMCS guest-state area\)\s+stores guest state\s+34\s+450/);
    expect(out).toMatch(/VM entry\s+processor \(VMCS guest-state area\)\s+checks and loads guest state\s+35\s+400/);
    expect(out).toMatch(/KVM by hand \(vmx_vcpu_run\)\s+saves guest GPRs and CR2 to vcpu->arch.regs\s+16/);
    expect(out).toContain("HOST_RIP");
    // the optional fields follow the controls the VMCS holds
    const m = lab.machine as unknown as { vmcs: { read32(n: string): number; write(n: string, v: bigint): void } };
    m.vmcs.write("VM_EXIT_CONTROLS", BigInt(m.vmcs.read32("VM_EXIT_CONTROLS") | (1 << 20)));
    expect(renderAllText(lab.run("show switch"))).toMatch(/stores guest state\s+35/);
  });
});
