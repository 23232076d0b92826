// Loaded traces through Lab.run: `load trace` of each fixture format, `table … by reason`,
// `count`/`first`/`where` on a trace, `compare`, `stat` and `chart` between a loaded trace and a
// VM, `sql` on DuckDB (both kinds of table), exports to Parquet/CSV/JSON read back by DuckDB, and
// the errors of bad input.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";
import { Lab } from "../../lab/index.js";
import type { ChartResult, ErrorResult, Result, TableResult } from "../../lab/results.js";

const FIX = fileURLToPath(new URL("../runtime/traces/fixtures/", import.meta.url));
const errors = (rs: Result[]) => rs.filter((r): r is ErrorResult => r.kind === "error");
const ok = (rs: Result[]): Result[] => {
  expect(errors(rs).map((e) => `${e.name}: ${e.message}`)).toEqual([]);
  return rs;
};
const tables = (rs: Result[]) => rs.filter((r): r is TableResult => r.kind === "table");
const values = (rs: Result[]) => rs.filter((r) => r.kind === "value").map((r) => (r.kind === "value" ? r.text : ""));
const labs: Lab[] = [];
async function lab(): Promise<Lab> {
  const l = await Lab.create();
  labs.push(l);
  return l;
}
afterAll(() => {
  for (const l of labs) l.session.sql?.close();
});

describe("load trace, table, count, first, where", () => {
  test("each format of both architectures and eras: the same exits by reason", async () => {
    const l = await lab();
    for (const f of ["ftrace", "trace-cmd", "perf-script"]) {
      const rs = ok(l.run(`load trace "${FIX}${f}-x86-2015.txt" as t\ntable t by reason\nload trace "${FIX}${f}-arm64-today.txt" as u\ntable u by reason`));
      const [x86, arm] = tables(rs);
      expect(x86!.columns.map((c) => c.name)).toEqual(["reason", "exits", "time (µs)"]);
      expect(x86!.rows).toEqual([["EPT_VIOLATION", 2, 8], ["HLT", 1, 300], ["CR_ACCESS", 1, 2], ["IO_INSTRUCTION", 1, 10], ["total", 5, 320]]);
      expect(arm!.rows).toEqual([["IABT_LOW", 1, 10], ["DABT_LOW", 1, 4], ["SYS64", 1, 2], ["IRQ", 1, 1], ["WFx", 1, 3], ["total", 5, 20]]);
    }
  });

  test("count, first and where over a loaded trace, with decoded fields", async () => {
    const l = await lab();
    const rs = ok(l.run(`load trace "${FIX}ftrace-x86-today.txt" as host
count(host)
count(host where reason == EPT_VIOLATION)
first(host where reason == IO_INSTRUCTION)
count(host where reason == IO_INSTRUCTION && qual.port == 0x3f8)
count(host where cycles > 100)
load trace "${FIX}perf-script-arm64-today.txt" as arm
count(arm where reason == IRQ)
count(arm where reason != IRQ && esr.ec == 0x18)`));
    expect(values(rs)).toEqual(["5", "1", "3", "1", "1", "1", "1"]);
  });

  test("the load reports malformed lines by number and lost events, and keeps the rest", async () => {
    const l = await lab();
    const rs = ok(l.run(`load trace "${FIX}malformed-x86.txt" as m\ncount(m)`));
    const t = rs[0]!.kind === "text" ? rs[0]!.text : "";
    expect(t).toMatch(/loaded 4 events \(2 exits, x86_64\)/);
    expect(t).toMatch(/the kernel lost 7 events/);
    expect(t).toMatch(/3 malformed lines skipped:/);
    expect(t).toMatch(/malformed-x86\.txt line 7, column 1: not a trace line/);
    expect(t).toMatch(/line 8, column 54: `kvm_exit`: expected/);
    expect(t).toMatch(/line 12, column 1/);
    expect(values(rs)).toEqual(["2"]);
  });

  test("bad input: unknown names, files that are no trace, a loaded trace saved as text", async () => {
    const l = await lab();
    const dir = mkdtempSync(join(tmpdir(), "exitlab-traces-"));
    writeFileSync(join(dir, "junk.txt"), "hello\nworld\n");
    let e = errors(l.run(`load trace "junk.txt"`, { baseDir: dir }))[0]!;
    expect(e.name).toBe("ValueError");
    expect(e.message).toMatch(/junk\.txt: no trace events in 2 lines \(2 malformed; first: junk\.txt line 1, column 1: not a trace line/);
    expect(e.hint).toMatch(/perf script/);
    ok(l.run(`load trace "${FIX}ftrace-x86-2015.txt" as host`));
    e = errors(l.run("count(hots where reason == HLT)"))[0]!;
    expect([e.name, e.line, e.column, e.hint]).toEqual(["NameError", 1, 7, "did you mean `host`?"]);
    e = errors(l.run('save trace host "x.trace"', { baseDir: dir }))[0]!;
    expect(e.message).toMatch(/loaded trace: it saves as \.parquet, \.csv or \.json/);
    e = errors(l.run("stat nothing"))[0]!;
    expect(e.name).toBe("NameError");
  });
});

describe("a loaded trace beside a VM: compare, stat, chart", () => {
  test("compare, stat of both, chart compare", async () => {
    const l = await lab();
    const rs = ok(l.run(`load trace "${FIX}trace-cmd-x86-2015.txt" as host
vm boot x86_64 as model
run
compare model host
stat host
stat model
chart compare model host
chart host exits by reason`));
    const [cmp, sh, sm] = tables(rs);
    expect(cmp!.columns.map((c) => c.name)).toEqual(["reason", "model exits", "model cycles", "host exits", "host time (µs)"]);
    expect(cmp!.rows.find((r) => r[0] === "EPT_VIOLATION")).toEqual(["EPT_VIOLATION", 6, 21900, 2, 8]);
    expect(cmp!.rows.find((r) => r[0] === "HLT")).toEqual(["HLT", 0, 0, 1, 300]);
    expect(sh!.columns.map((c) => c.name)).toEqual(["VM-EXIT", "Samples", "Samples%", "Time%", "Min Time (us)", "Max Time (us)", "Avg time (us)", "+-%"]);
    // EPT_VIOLATION: 5 µs and 3 µs: avg 4, stddev of the mean 1, ±25 %.
    expect(sh!.rows[0]).toEqual(["EPT_VIOLATION", 2, 40, 2.5, 3, 5, 4, 25]);
    expect(sh!.rows.find((r) => r[0] === "HLT")).toEqual(["HLT", 1, 20, 93.75, 300, 300, 300, 0]);
    expect(sm!.rows[0]![0]).toBe("IO_INSTRUCTION");
    expect(sm!.rows[0]![1]).toBe(30);
    expect(sm!.columns[4]!.name).toBe("Min Time (cycles)");
    const texts = rs.filter((r) => r.kind === "text").map((r) => (r.kind === "text" ? r.text : ""));
    expect(texts).toContain("Total Samples:5, Total events handled time:320.00us.");
    const charts = rs.filter((r): r is ChartResult => r.kind === "chart");
    expect(charts).toHaveLength(2);
    const values = (charts[0]!.spec.data as { values: { source: string; reason: string; exits: number }[] }).values;
    expect(values.find((v) => v.source === "host" && v.reason === "HLT")?.exits).toBe(1);
    const panels = charts[0]!.spec.hconcat as { encoding: { x: { title: string } } }[];
    expect(panels[1]!.encoding.x.title).toBe("model: modelled host cycles; host: host time (µs, kvm_exit to kvm_entry)");
    expect((charts[1]!.spec.encoding as { x: { title: string } }).x.title).toBe("exits");
  });

  test("stat of a saved perf kvm stat report", async () => {
    const l = await lab();
    const rs = ok(l.run(`load trace "${FIX}perf-kvm-stat-x86.txt" as real\nstat real\nvm boot x86_64 as model\nrun\ncompare model real\ncount(real)`));
    const [st, cmp] = tables(rs);
    expect(st!.rows[2]).toEqual(["HLT", 2210, 19.15, 54.2, 0.68, 80123.03, 57.02, 22.18]);
    // Beside a VM: the report's samples and total time (samples × average) per event.
    expect(cmp!.rows.find((r) => r[0] === "HLT")).toEqual(["HLT", 0, 0, 2210, 126014.2]);
    expect(cmp!.rows.at(-1)![3]).toBe(11539);
    expect(values(rs)).toEqual(["11539"]);
  });
});

describe("sql on DuckDB", () => {
  test("a group-by over a loaded trace and a VM; 64-bit columns in hex; errors point at the query", async () => {
    const l = await lab();
    const rs = ok(l.run(`load trace "${FIX}perf-script-x86-2015.txt" as host
vm boot x86_64 as model
run
sql "select reason, count(*) as n, round(sum(cost), 3) as us from host where event = 'kvm_exit' group by reason order by n desc, reason"
sql "select count(*) as exits, sum(cost) as cycles from model where event = 'kvm_exit' and reason = 'EPT_VIOLATION'"
sql "select pc, info1, task, pid, cpu from host where event = 'kvm_exit' order by seq limit 1"`));
    const [a, b, c] = tables(rs);
    expect(a!.rows).toEqual([["EPT_VIOLATION", 2, 8], ["CR_ACCESS", 1, 2], ["HLT", 1, 300], ["IO_INSTRUCTION", 1, 10]]);
    expect(b!.rows).toEqual([[6, 21900]]);
    expect(c!.columns.map((x) => x.type)).toEqual(["hex", "hex", "string", "number", "number"]);
    expect(c!.rows).toEqual([["0x40015e", "0x184", "qemu-system-x86", 4242, 1]]);
    // A query's result as a chart: bars by its first column, as long as its first numeric column.
    const [bars] = ok(l.run(`chart sql "select reason, count(*) as exits from host where event = 'kvm_exit' group by reason order by exits desc, reason"`)) as ChartResult[];
    expect(bars!.kind).toBe("chart");
    expect((bars!.spec.data as { values: unknown[] }).values).toEqual([{ reason: "EPT_VIOLATION", exits: 2 }, { reason: "CR_ACCESS", exits: 1 }, { reason: "HLT", exits: 1 }, { reason: "IO_INSTRUCTION", exits: 1 }]);
    expect(bars!.summary).toMatch(/^exits by reason \(sql: .*\): EPT_VIOLATION 2, CR_ACCESS 1, HLT 1, IO_INSTRUCTION 1$/);
    const bad = errors(l.run(`chart sql "select reason from host"`))[0]!;
    expect([bad.name, bad.column]).toEqual(["ValueError", 11]);
    const e = errors(l.run(`\nsql "select * from nope"`))[0]!;
    expect([e.name, e.line, e.column]).toEqual(["SqlError", 2, 5]);
    expect(e.message).toMatch(/nope does not exist/);
    expect(e.hint).toMatch(/tables: model, host; columns: seq, ts/);
  });

  test("save trace to .parquet, .csv and .json: DuckDB reads the same rows back", async () => {
    const l = await lab();
    const dir = mkdtempSync(join(tmpdir(), "exitlab-export-"));
    ok(l.run(`load trace "${FIX}ftrace-arm64-2015.txt" as host\nvm boot arm64 as model\nrun`));
    for (const ext of ["parquet", "csv", "json"]) {
      const rs = ok(l.run(`save trace host "host.${ext}"\nsave trace "model.${ext}"`, { baseDir: dir }));
      expect(rs).toHaveLength(2);
      const reader = ext === "parquet" ? "read_parquet" : ext === "csv" ? "read_csv" : "read_json";
      const [t] = tables(ok(l.run(`sql "select count(*), count(distinct reason), min(ts) from ${reader}('${join(dir, "host." + ext)}')"`)));
      expect(t!.rows).toEqual([[15, 5, 200.0001]]);
      const [m] = tables(ok(l.run(`sql "select count(*) from ${reader}('${join(dir, "model." + ext)}') where event = 'kvm_exit'"`)));
      expect(m!.rows[0]![0]).toBe(l.session.vms.get("model")!.machine.exits.length);
    }
    expect(readFileSync(join(dir, "host.csv"), "utf8").split("\n")[0]).toBe("seq,ts,cycles,step,cpu,vcpu,task,pid,event,reason,code,pc,info1,info2,intr_info,error_code,gpa,body,cost");
  });
});
