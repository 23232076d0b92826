// kvm-unit-tests entries where QEMU TCG is not what real KVM does, each difference with its
// source: exitlab models KVM, so its lines differ from QEMU's exactly there and nowhere else.
//
// gicv2-mmio-up (one CPU, GICv2): QEMU's GIC (hw/intc/arm_gic.c, gic_dist_readb/writeb: "For
// uniprocessor GICs these RAZ/WI") reads GICD_ITARGETSR as zero when there is one CPU, as the
// GICv2 spec allows (IHI 0048B 4.3.12), so the test's "register content preserved" and "byte
// writes successful" fail. KVM's vGIC keeps the bits of the CPUs that exist (Linux
// arch/arm64/kvm/vgic/vgic-mmio-v2.c vgic_mmio_write_target: targets & GENMASK(online_vcpus - 1, 0);
// v4.1 vgic-v2-emul.c vgic_set_target_reg likewise), so on KVM — and exitlab — both pass.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { parseUnittestsCfg } from "../../bin/kut/config.js";
import { entriesFor, hasQemu, runExitlab, runQemu } from "../../bin/kut/runner.js";

const KUT = join(__dirname, "../../../shared/guests/kvm-unit-tests");
const requireQemu = process.env.EXITLAB_REQUIRE_QEMU === "1";

/** What QEMU TCG prints for gicv2-mmio-up (QEMU 9, -cpu cortex-a57, -smp 1). */
const QEMU_LINES = [
  "PASS: gicv2: mmio: all CPUs have interrupts",
  "PASS: gicv2: mmio: GICD_TYPER is read-only",
  "PASS: gicv2: mmio: GICD_IIDR is read-only",
  "PASS: gicv2: mmio: ICPIDR2 is read-only",
  "PASS: gicv2: mmio: IPRIORITYR: consistent priority masking",
  "PASS: gicv2: mmio: IPRIORITYR: implements at least 4 priority bits",
  "PASS: gicv2: mmio: IPRIORITYR: clearing priorities",
  "PASS: gicv2: mmio: IPRIORITYR: accesses beyond limit RAZ/WI",
  "PASS: gicv2: mmio: IPRIORITYR: accessing last SPIs",
  "PASS: gicv2: mmio: IPRIORITYR: priorities are preserved",
  "PASS: gicv2: mmio: IPRIORITYR: byte reads successful",
  "PASS: gicv2: mmio: IPRIORITYR: byte writes successful",
  "PASS: gicv2: mmio: ITARGETSR: bits for non-existent CPUs masked",
  "PASS: gicv2: mmio: ITARGETSR: accesses beyond limit RAZ/WI",
  "FAIL: gicv2: mmio: ITARGETSR: register content preserved",
  "PASS: gicv2: mmio: ITARGETSR: byte reads successful",
  "FAIL: gicv2: mmio: ITARGETSR: byte writes successful",
  "SUMMARY: 17 tests, 2 unexpected failures",
];
/** KVM's: the two ITARGETSR lines pass, and the summary counts no failure. */
const KVM_LINES = QEMU_LINES.map((l) => (l.startsWith("FAIL: gicv2: mmio: ITARGETSR") ? l.replace("FAIL", "PASS") : l.startsWith("SUMMARY") ? "SUMMARY: 17 tests" : l));

describe.skipIf(!existsSync(KUT) && process.env.EXITLAB_REQUIRE_KUT !== "1")("kvm-unit-tests where QEMU TCG differs from KVM", () => {
  test("gicv2-mmio-up: ITARGETSR is RAZ/WI on QEMU's uniprocessor GIC, kept by KVM's vGIC", () => {
    const dir = join(KUT, "arm64");
    const [e] = entriesFor(parseUnittestsCfg(readFileSync(join(dir, "unittests.cfg"), "utf8")), "arm64", ["gicv2-mmio-up"]);
    expect(e, "gicv2-mmio-up in unittests.cfg").toBeDefined();
    if (requireQemu) expect(hasQemu("arm64")).toBe(true);
    if (hasQemu("arm64")) expect(runQemu(dir, "arm64", e!).lines).toEqual(QEMU_LINES);
    for (const era of ["2015", "today"] as const) expect(runExitlab(dir, "arm64", e!, { era }).lines, era).toEqual(KVM_LINES);
  }, 120_000);
});
