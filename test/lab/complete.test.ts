import { describe, expect, test } from "vitest";
import { Session } from "../../lab/session.js";
import { readTraceText } from "../../runtime/traces/reader.js";
import { complete, inspect, isComplete } from "../../lab/complete.js";
import { renderHtml, renderReport } from "../../lab/render/html.js";
import { renderJson } from "../../lab/render/json.js";
import { renderTable } from "../../lab/render/text.js";
import { Lab } from "../../lab/index.js";
import { x86Factory } from "./factory.js";

describe("complete / inspect / isComplete", () => {
  test("statement keywords, trap kinds, show targets, registers, exit reasons", () => {
    const s = new Session(x86Factory);
    s.execute("vm boot x86_64");
    expect(complete(s, "st", 2)).toEqual({ matches: ["stat", "step"], start: 0, end: 2 });
    expect(complete(s, "trap c", 6).matches).toEqual(["cpuid", "cr0", "cr3", "cr4", "cr8"]);
    expect(complete(s, "trap cr", 7).matches).toEqual(["cr0", "cr3", "cr4", "cr8"]);
    expect(complete(s, "show re", 7).matches).toEqual(["regs"]);
    // VMs and loaded traces after `stat`, `compare` and `save trace`.
    s.execute("vm boot x86_64 as intel");
    s.traces.set("host", { name: "host", path: "host.trace", read: readTraceText("kvm_entry: vcpu 0\n"), exits: undefined as never, id: 1 });
    for (const code of ["stat ", "compare intel ", "save trace "]) expect(complete(s, code, code.length).matches, code).toEqual(["host", "intel", "x86_64"]);
    s.traces.clear();
    s.vms.delete("intel");
    s.currentName = "x86_64";
    // chart: what to chart, its shape, then the filters (grammar/exitlab.ne's chart rule).
    const chart = (code: string) => complete(s, code, code.length).matches;
    expect(chart("chart ")).toEqual(expect.arrayContaining(["compare", "cycles", "exits"]));
    expect(chart("chart cycles ")).toEqual(["by", "over"]);
    expect(chart("chart exits by ")).toEqual(["reason"]);
    expect(chart("chart exits over ")).toEqual(["time"]);
    expect(chart("chart exits by reason ")).toEqual(["where", "without"]);
    expect(chart("chart exits by reason without ")).toEqual(["console"]);
    expect(chart("chart exits by reason where reason == CR_")).toContain("CR_ACCESS");
    expect(complete(s, "expect ra", 9).matches).toContain("rax");
    expect(complete(s, "expect exit.reason == CR_A", 26).matches).toEqual(["CR_ACCESS"]);
  });

  test("a view's arguments and a setting's values", () => {
    const s = new Session(x86Factory);
    s.execute("vm boot x86_64");
    expect(complete(s, "show vmcs ", 10).matches).toEqual(["entry", "exec", "exit", "exit_info", "guest", "host"]);
    expect(complete(s, "show vmcs exit_", 15).matches).toEqual(["exit_info"]);
    expect(complete(s, "set era ", 8).matches).toEqual(["2015", "today"]);
    expect(complete(s, "set pair_mmio o", 15).matches).toEqual(["off", "on"]);
    // Views without fixed arguments complete expressions (an address, a register).
    expect(complete(s, "show mem ra", 11).matches).toContain("rax");
  });

  test("inspect: keyword, register with value, exit reason, VMCS field", () => {
    const s = new Session(x86Factory);
    s.execute("vm boot x86_64");
    expect(inspect(s, "trap", 2)).toMatch(/^trap KIND \[ARG\]/);
    expect(inspect(s, "rip", 1)).toBe("rip (x86_64 register of VM x86_64) = 0x400000");
    expect(inspect(s, "EPT_VIOLATION", 3)).toMatch(/^EPT_VIOLATION \(48\): x86_64 exit reason/);
    expect(inspect(s, "GUEST_CR3", 3)).toMatch(/^GUEST_CR3 \(vmcs field 0x6802\)/);
    expect(inspect(s, "   ", 1)).toBeUndefined();
  });

  test("isComplete: open asm blocks are incomplete", () => {
    expect(isComplete("vm boot arm64 asm {\n mov x0, #1")).toBe("incomplete");
    expect(isComplete("vm boot arm64 asm {\n mov x0, #1\n}")).toBe("complete");
    expect(isComplete("let x =")).toBe("incomplete");
    expect(isComplete("let = 1")).toBe("invalid");
  });
});

describe("renderers", () => {
  const table = { kind: "table" as const, title: "t<1>", columns: [{ name: "reason", type: "string" as const }, { name: "n", type: "number" as const }], rows: [["<script>", 3], ["CR_ACCESS", 12]], line: 1 };
  test("text tables align, numbers right", () => {
    expect(renderTable(table)).toBe("t<1>\nreason      n\n---------  --\n<script>    3\nCR_ACCESS  12");
  });
  test("html escapes everything from guests and traces", () => {
    const h = renderHtml(table);
    expect(h).not.toContain("<script>");
    expect(h).toContain("&lt;script&gt;");
    expect(renderReport("r", [table])).toMatch(/^<!DOCTYPE html>/);
  });
  test("json", () => {
    expect(JSON.parse(renderJson([table]))[0].rows[1]).toEqual(["CR_ACCESS", 12]);
  });
});

describe("Lab (TypeScript API)", () => {
  test("run returns results and exposes machines", async () => {
    const lab = await Lab.create(x86Factory);
    const rs = lab.run("vm boot x86_64; run");
    expect(rs.map((r) => r.kind)).toEqual(["text", "text"]);
    expect(lab.machine!.exits.length).toBe(41);
    expect([...lab.machines.keys()]).toEqual(["x86_64"]);
    expect(lab.text("expect count(exits) == 41")).toBe("ok: count(exits) == 41\n");
  });
});
