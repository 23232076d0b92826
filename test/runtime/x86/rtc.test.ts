// QEMU's MC146818 RTC (runtime/x86/rtc.ts, hw/rtc/mc146818rtc.c): the time registers from
// modelled time starting at a fixed date, BCD or binary and 12- or 24-hour by register B, UIP in
// the last 244 µs of each second, register C's flags cleared by reading it, the alarm and IRQ 8.

import { describe, expect, test } from "vitest";
import { createX86Machine } from "../../../runtime/x86/machine.js";
import { readX86Fixture } from "./fixtures/index.js";
import { Mc146818Rtc, REG_B, REG_C, RTC_REG, UIP_HOLD_NS } from "../../../runtime/x86/rtc.js";

function rtc() {
  const h = { t: 0, irq8: false, wakes: 0 };
  const r = new Mc146818Rtc({ now: () => h.t, setIrq8: (l) => void (h.irq8 = l), wakeup: () => void h.wakes++ });
  const get = (i: number) => (r.write(0, 1, i), r.read(1));
  const set = (i: number, v: number) => (r.write(0, 1, i), r.write(1, 1, v));
  return { r, h, get, set };
}

describe("the MC146818 RTC", () => {
  test("starts at 2026-01-01 00:00:00, a Thursday, in BCD and 24-hour mode (register B 0x02, A 0x26, D 0x80)", () => {
    const { get } = rtc();
    expect([RTC_REG.SECONDS, RTC_REG.MINUTES, RTC_REG.HOURS, RTC_REG.DAY_OF_WEEK, RTC_REG.DAY_OF_MONTH, RTC_REG.MONTH, RTC_REG.YEAR, RTC_REG.CENTURY].map(get)).toEqual([0, 0, 0, 5, 1, 1, 0x26, 0x20]);
    expect([RTC_REG.A, RTC_REG.B, RTC_REG.D].map(get)).toEqual([0x26, 0x02, 0x80]);
  });

  test("the time advances with modelled time: 3725.5 s later it reads 01:02:05; binary (DM) and 12-hour forms", () => {
    const { h, get, set } = rtc();
    h.t = 3725.5e9;
    expect([get(RTC_REG.HOURS), get(RTC_REG.MINUTES), get(RTC_REG.SECONDS)]).toEqual([0x01, 0x02, 0x05]);
    h.t = 13 * 3600e9 + 59e9; // 13:00:59
    expect(get(RTC_REG.SECONDS)).toBe(0x59);
    set(RTC_REG.B, REG_B.DM); // binary, 12-hour
    expect(get(RTC_REG.SECONDS)).toBe(59);
    expect(get(RTC_REG.HOURS)).toBe(0x80 | 1); // 1 PM
  });

  test("UIP is set in the last 244 µs of each second only; writing A keeps it out", () => {
    const { h, get, set } = rtc();
    h.t = 1e9 - UIP_HOLD_NS - 1;
    expect(get(RTC_REG.A) & 0x80).toBe(0);
    h.t = 1e9 - UIP_HOLD_NS;
    expect(get(RTC_REG.A) & 0x80).toBe(0x80);
    h.t = 1e9; // the update ran: the new second, UIP clear
    expect(get(RTC_REG.A)).toBe(0x26);
    expect(get(RTC_REG.SECONDS)).toBe(1);
    set(RTC_REG.A, 0xa6);
    expect(get(RTC_REG.A)).toBe(0x26);
  });

  test("writing a time byte sets the clock; it runs on from there", () => {
    const { h, get, set } = rtc();
    set(RTC_REG.MINUTES, 0x30);
    h.t = 2e9;
    expect([get(RTC_REG.MINUTES), get(RTC_REG.SECONDS)]).toEqual([0x30, 0x02]);
  });

  test("the alarm (don't-care bytes: the next second) sets AF; with AIE it sets IRQF, raises IRQ 8 and wakes; reading C clears it and lowers IRQ 8", () => {
    const { r, h, get, set } = rtc();
    h.t = 0.5e9;
    expect(get(RTC_REG.C)).toBe(0);
    for (const i of [RTC_REG.SECONDS_ALARM, RTC_REG.MINUTES_ALARM, RTC_REG.HOURS_ALARM]) set(i, 0xc0);
    set(RTC_REG.B, get(RTC_REG.B) | REG_B.AIE);
    expect(r.deadline).toBe(1e9);
    expect(r.nextAlarm(h.t)).toBe(1e9);
    h.t = 1e9;
    expect(r.expire()).toBe(true);
    expect(h.irq8).toBe(true);
    expect(h.wakes).toBe(1);
    expect(get(RTC_REG.C)).toBe(REG_C.IRQF | REG_C.AF | REG_C.UF);
    expect(h.irq8).toBe(false);
    expect(get(RTC_REG.C)).toBe(0);
  });

  test("an alarm for a given time matches only then; without AIE or UIE there is no deadline, and UF alone raises nothing", () => {
    const { r, h, get, set } = rtc();
    set(RTC_REG.SECONDS_ALARM, 0x10); // BCD: 10 s
    set(RTC_REG.MINUTES_ALARM, 0x00);
    set(RTC_REG.HOURS_ALARM, 0x00);
    expect(r.deadline).toBe(Infinity);
    expect(r.nextAlarm(0)).toBe(10e9);
    h.t = 5e9;
    expect(get(RTC_REG.C)).toBe(REG_C.UF);
    h.t = 10e9;
    expect(get(RTC_REG.C)).toBe(REG_C.UF | REG_C.AF);
    expect(h.irq8).toBe(false);
  });
});

describe("IRQ 8 in a guest", () => {
  test("the update interrupt (UIE) each second through the slave PIC wakes HLT; QEMU's timer needs no exit of its own", () => {
    const m = createX86Machine({ guest: { source: readX86Fixture("rtc-guest.s") }, settings: { stepLimit: 100_000 } });
    const r = m.run();
    expect(r.message).toMatch(/HLT with interrupts disabled/);
    const word = (sym: string) => Number(m.readPhysical(Number(m.symbols.get(sym)), 4)[0]);
    expect(word("count")).toBe(2);
    expect(word("flags") & 0xff).toBe(REG_C.IRQF | REG_C.UF);
    // Asleep to the second update: two seconds of modelled time, not three.
    expect(m.time).toBeGreaterThanOrEqual(2e9);
    expect(m.time).toBeLessThan(3e9);
    expect(m.trace.lines("2015").filter((l) => l.startsWith("kvm_inj_virq"))).toEqual(["kvm_inj_virq: irq 40", "kvm_inj_virq: irq 40"]);
    expect(m.exits.filter((e) => e.reason === "EXTERNAL_INTERRUPT")).toHaveLength(0);
  });
});
