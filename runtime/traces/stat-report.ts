// `perf kvm stat report` as a table of facts: the summary computed from exits (stat rows), its text
// as perf prints it, and the parser of a saved report (so a real host's report can be compared with
// exitlab's). Source: Linux tools/perf/builtin-kvm.c (print_result: "%20s %10llu %8.2f%% %8.2f%%
// %9.2fus %9.2fus %9.2fus ( +-%7.2f%% )", sorted by samples) and tools/perf/util/stat.c
// (stddev_stats: the standard error of the mean, sqrt(M2 / (n - 1) / n); rel_stddev_stats: it as a
// percentage of the mean).

/** One event's line. Times in the report's unit (µs for perf and real traces, cycles for exitlab's model). */
export interface StatRow {
  event: string;
  samples: number;
  samplesPct: number;
  timePct: number;
  min: number;
  max: number;
  avg: number;
  /** The mean's relative standard error, in percent (perf's "( +- x% )"). */
  stddevPct: number;
}

export interface StatReport {
  /** The header line it came with ("Analyze events for all VMs, all VCPUs:"). */
  title: string;
  rows: StatRow[];
  totalSamples: number | null;
  /** Total events handled time, µs. */
  totalTimeUs: number | null;
}

const ROW = /^\s*(\S+)\s+(\d+)\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)us\s+([\d.]+)us\s+([\d.]+)us\s+\(\s*\+-\s*([\d.]+)%\s*\)\s*$/;
const TOTAL = /^\s*Total Samples:\s*(\d+),\s*Total events handled time:\s*([\d.]+)us\.?\s*$/;
const HEADER = /^\s*(?:VM-EXIT|Analyze events for)\b/;

/** Adds one line of a saved report to `report`; returns a message when the line is not one of its lines. */
export function parseStatReportLine(report: StatReport, line: string): string | null {
  if (line.trim() === "" || HEADER.test(line)) return null;
  const m = ROW.exec(line);
  if (m) {
    report.rows.push({ event: m[1]!, samples: Number(m[2]), samplesPct: Number(m[3]), timePct: Number(m[4]), min: Number(m[5]), max: Number(m[6]), avg: Number(m[7]), stddevPct: Number(m[8]) });
    return null;
  }
  const t = TOTAL.exec(line);
  if (t) {
    report.totalSamples = Number(t[1]);
    report.totalTimeUs = Number(t[2]);
    return null;
  }
  return `not a line of \`perf kvm stat report\`: expected \`EVENT SAMPLES SAMPLES% TIME% MINus MAXus AVGus ( +- X% )\` or \`Total Samples:N, Total events handled time:Tus.\`; got ${JSON.stringify(line.trim().slice(0, 60))}`;
}

/** Running count, mean and M2 (Welford), min, max and sum of one event's times. */
class Acc {
  n = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;
  sum = 0;
  add(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.sum += x;
  }
}

/**
 * perf kvm stat's rows from exits: `reasons[i]` took `times[i]` (µs or cycles; NaN: unknown, e.g.
 * an exit with no later entry — counted in samples, left out of the times). Sorted by samples,
 * most first, ties in order of first appearance.
 */
export function statRows(reasons: ArrayLike<string>, times: ArrayLike<number>): StatRow[] {
  const by = new Map<string, { acc: Acc; samples: number }>();
  let samples = 0;
  let total = 0;
  for (let i = 0; i < reasons.length; i++) {
    const r = reasons[i]!;
    let e = by.get(r);
    if (!e) by.set(r, (e = { acc: new Acc(), samples: 0 }));
    e.samples++;
    samples++;
    const t = times[i]!;
    if (t === t) {
      e.acc.add(t);
      total += t;
    }
  }
  const rows = [...by.entries()].map(([event, { acc, samples: s }]) => {
    const stddev = acc.n < 2 ? 0 : Math.sqrt(acc.m2 / (acc.n - 1) / acc.n);
    return {
      event,
      samples: s,
      samplesPct: samples ? (100 * s) / samples : 0,
      timePct: total ? (100 * acc.sum) / total : 0,
      min: acc.n ? acc.min : 0,
      max: acc.n ? acc.max : 0,
      avg: acc.n ? acc.mean : 0,
      stddevPct: acc.mean ? (100 * stddev) / acc.mean : 0,
    };
  });
  return rows.map((r, i) => ({ r, i })).sort((a, b) => b.r.samples - a.r.samples || a.i - b.i).map((x) => x.r);
}
