// The vCPU scheduler (runtime/core/vcpus.ts): round robin by a quantum of guest instructions over
// the runnable vCPUs, secondaries off at creation, a vCPU that stops running giving up its
// quantum, `step`'s pin, and the errors for out-of-range counts and vCPU numbers.
import { describe, expect, it } from "vitest";
import { DEFAULT_QUANTUM, MAX_VCPUS, VcpuScheduler, vcpuRangeError } from "../../../runtime/core/vcpus.js";
import { ExitlabError } from "../../../runtime/core/errors.js";

/** The vCPU each of `n` turns runs, each turn running its whole quantum. */
function turns(s: VcpuScheduler, n: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const id = s.pick();
    out.push(id);
    if (id < 0) break;
    s.charge(s.quantum);
  }
  return out;
}

describe("VcpuScheduler", () => {
  it("boots with vCPU 0 running and the secondaries off (PSCI CPU_ON / INIT-SIPI start them)", () => {
    const s = new VcpuScheduler(3);
    expect(s.states).toEqual(["running", "off", "off"]);
    expect(s.quantum).toBe(DEFAULT_QUANTUM);
    expect(s.ids("off")).toEqual([1, 2]);
    expect(turns(s, 3)).toEqual([0, 0, 0]);
  });

  it("keeps the current vCPU until its quantum is used, then takes the next runnable one in id order", () => {
    const s = new VcpuScheduler(3, 5);
    s.set(1, "running");
    s.set(2, "running");
    expect(s.pick()).toBe(0);
    s.charge(3);
    expect(s.pick()).toBe(0);
    expect(s.left).toBe(2);
    s.charge(2);
    expect(s.pick()).toBe(1);
    expect(s.left).toBe(5);
    expect(turns(s, 5)).toEqual([1, 2, 0, 1, 2]);
  });

  it("skips vCPUs that are blocked or off; a vCPU that stops running gives up the rest of its quantum", () => {
    const s = new VcpuScheduler(3, 100);
    s.set(2, "running");
    expect(s.pick()).toBe(0);
    s.set(0, "blocked");
    expect(s.left).toBe(0);
    expect(s.pick()).toBe(2);
    // Blocking another vCPU leaves the current one's quantum alone.
    s.charge(10);
    s.set(0, "off");
    expect(s.left).toBe(90);
    s.set(2, "blocked");
    expect(s.pick()).toBe(-1);
    s.set(0, "running");
    expect(s.pick()).toBe(0);
  });

  it("a pin runs only the pinned vCPU (with a fresh quantum when it takes over), -1 when it cannot run", () => {
    const s = new VcpuScheduler(2, 10);
    s.pin = 1;
    expect(s.pick()).toBe(-1);
    s.set(1, "running");
    expect(s.pick()).toBe(1);
    expect(s.current).toBe(1);
    expect(s.left).toBe(10);
    s.charge(10);
    expect(s.pick()).toBe(1);
    s.pin = null;
    s.charge(10);
    expect(s.pick()).toBe(0);
  });

  it("is deterministic: the same calls give the same order", () => {
    const run = () => {
      const s = new VcpuScheduler(4, 7);
      for (const i of [1, 2, 3]) s.set(i, "running");
      const out: number[] = [];
      for (let k = 0; k < 20; k++) {
        out.push(s.pick());
        s.charge(k % 3 === 0 ? 7 : 3);
        if (k === 6) s.set(2, "blocked");
        if (k === 12) s.set(2, "running");
      }
      return out;
    };
    expect(run()).toEqual(run());
    expect(run().slice(0, 6)).toEqual([0, 1, 1, 1, 2, 2]);
  });

  it("rejects counts outside 1..MAX_VCPUS with an ExitlabError", () => {
    for (const n of [0, MAX_VCPUS + 1, 1.5]) {
      expect(() => new VcpuScheduler(n)).toThrow(ExitlabError);
      expect(() => new VcpuScheduler(n)).toThrow(`vcpus must be an integer from 1 to ${MAX_VCPUS}, not ${n}`);
    }
  });
});

describe("vcpuRangeError", () => {
  it("names the vCPU and the range, and hints at the fix", () => {
    const e = vcpuRangeError(3, 2);
    expect(e.message).toBe("no vCPU 3: this VM has 2 vCPUs (0..1)");
    expect(e.hint).toBe("vcpu 0..1");
    const one = vcpuRangeError(1, 1);
    expect(one.message).toBe("no vCPU 1: this VM has 1 vCPU (0..0)");
    expect(one.hint).toMatch(/set vcpus 2/);
  });
});
