// KVM's in-kernel i8254 (runtime/x86/pit.ts, Linux arch/x86/kvm/i8254.c): counting from modelled
// time, the control word and read-back, counter 0's timer and its reinjection; and a guest that
// programs the PIT for 1 ms ticks and takes IRQ 0 through the PIC (LINT0 in ExtINT) while it
// sleeps in HLT, the modelled clock jumping to each expiry.

import { describe, expect, test } from "vitest";
import { KVM_PIT_FREQ, KvmPit, MIN_TIMER_PERIOD_NS } from "../../../runtime/x86/pit.js";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { readX86Fixture } from "./fixtures/index.js";

/** A PIT on a clock the test moves (ns), counting its GSI 0 pulses. */
function pit() {
  const h = { t: 0, pulses: 0 };
  const p = new KvmPit({ now: () => h.t, pulseIrq0: () => void h.pulses++ });
  return { p, h };
}
/** Counter `ch` latched (control word, counter latch) and read LSB then MSB. */
const latched = (p: KvmPit, ch: number) => {
  p.write(3, ch << 6);
  return p.read(ch) | (p.read(ch) << 8);
};

describe("the i8254 (KVM's in-kernel PIT)", () => {
  test("after reset no counter runs a timer: mode 0xff, count 0x10000, nothing armed", () => {
    const { p } = pit();
    expect(p.channels.map((c) => c.mode)).toEqual([0xff, 0xff, 0xff]);
    expect(p.channels.map((c) => c.gate)).toEqual([true, true, false]);
    expect(p.deadline).toBe(Infinity);
  });

  test("mode 2 counts down at 1193182 Hz within its period and expires every count × 1e9 / KVM_PIT_FREQ ns", () => {
    const { p, h } = pit();
    p.write(3, 0x34); // counter 0, LSB then MSB, mode 2
    p.write(0, 0xa9);
    p.write(0, 0x04); // 1193
    const period = Math.floor((1193 * 1e9) / KVM_PIT_FREQ);
    expect(period).toBe(999_847);
    expect(p.deadline).toBe(period);
    expect(latched(p, 0)).toBe(1193);
    h.t = 500_000; // 596 input ticks later
    expect(latched(p, 0)).toBe(1193 - Math.floor((500_000 * KVM_PIT_FREQ) / 1e9));
    h.t = period;
    expect(p.expire()).toBe(1);
    expect(h.pulses).toBe(1);
    expect(p.deadline).toBe(2 * period);
  });

  test("read-back latches status (OUT, RW, mode, BCD) and count; the latch holds until read", () => {
    const { p, h } = pit();
    p.write(3, 0xb6); // counter 2, LSB then MSB, mode 3
    p.write(2, 0x00);
    p.write(2, 0x10); // 0x1000
    h.t = 1000;
    p.write(3, 0xc8); // read-back: count and status of counter 2
    expect(p.read(2)).toBe(0x80 | (3 << 4) | (3 << 1)); // OUT high in the first half of mode 3
    const d = Math.floor((1000 * KVM_PIT_FREQ) / 1e9);
    h.t = 5000; // the latched count does not move
    expect(p.read(2) | (p.read(2) << 8)).toBe(0x1000 - 2 * d);
  });

  test("a periodic counter 0 is no faster than min_timer_period_us (200 µs); a one-shot (mode 0) expires once", () => {
    const { p, h } = pit();
    p.write(3, 0x34);
    p.write(0, 10);
    p.write(0, 0);
    expect(p.period).toBe(MIN_TIMER_PERIOD_NS);
    p.write(3, 0x30); // mode 0
    p.write(0, 0xa9);
    p.write(0, 0x04);
    h.t = 10_000_000;
    expect(p.expire()).toBe(1);
    expect(p.deadline).toBe(Infinity);
  });

  test("reinjection: expiries the guest has not acknowledged wait; each EOI of IRQ 0 lets one more pulse go", () => {
    const { p, h } = pit();
    p.write(3, 0x34);
    p.write(0, 0xa9);
    p.write(0, 0x04);
    h.t = 3 * p.period + p.deadline - p.period; // three expiries due
    expect(p.expire()).toBe(3);
    expect(h.pulses).toBe(1);
    expect(p.pending).toBe(3);
    p.ack();
    expect(h.pulses).toBe(2);
    p.ack();
    expect(h.pulses).toBe(3);
    p.ack();
    expect(h.pulses).toBe(3); // the last one acknowledged: nothing pending
    expect(p.pending).toBe(0);
  });
});

describe("IRQ 0 in a guest", () => {
  test("1 ms ticks through the PIC and LINT0: three HLTs wake at the PIT's expiries, 999,847 ns apart", () => {
    const m = createX86Machine({ guest: { source: readX86Fixture("pit-guest.s") }, settings: { stepLimit: 100_000 } });
    const r = m.run();
    expect(r.message).toMatch(/HLT with interrupts disabled/);
    expect(Number(m.readPhysical(Number(m.symbols.get("count")), 4)[0])).toBe(3);
    // The guest slept to each expiry: the clock passed the third one, and not the fourth.
    expect(m.time).toBeGreaterThanOrEqual(m.pit.deadline - m.pit.period);
    expect(m.time).toBeLessThan(m.pit.deadline);
    expect(m.pit.deadline).toBeGreaterThan(3 * 999_847);
    expect(m.trace.lines("2015").filter((l) => l.startsWith("kvm_inj_virq"))).toEqual(["kvm_inj_virq: irq 32", "kvm_inj_virq: irq 32", "kvm_inj_virq: irq 32"]);
    expect(m.trace.lines("2015").filter((l) => l.startsWith("kvm_set_irq: gsi 0 level 1"))).toEqual(Array(3).fill("kvm_set_irq: gsi 0 level 1 source 2"));
  });
});
