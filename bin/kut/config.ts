// kvm-unit-tests' unittests.cfg: one [section] per test entry, `key = value` lines (file, smp,
// test_args, qemu_params, groups, arch, accel, timeout, disabled_if), as upstream's
// scripts/runtime.bash reads them (for_each_unittest in scripts/common.bash).

export interface KutEntry {
  name: string;
  /** The binary, relative to the config's directory. */
  file: string;
  /** vCPUs: a number, or the expression upstream evaluates ($MAX_SMP...): then `smpText`. */
  smp: number;
  smpText: string;
  /** The guest's command line (QEMU -append), quotes removed. */
  testArgs: string;
  /** Extra QEMU options (e.g. `-m 256`, `-machine gic-version=3`). */
  qemuParams: string;
  groups: string[];
  /** `arch =` when given (arm, arm64, x86_64, i386). */
  arch?: string;
  /** `accel = kvm`: upstream runs it only under KVM. */
  accel?: string;
  /** Seconds (`timeout = 10s`), when given. */
  timeout?: number;
  disabledIf?: string;
}

const unquote = (v: string) => (/^(['"]).*\1$/.test(v) ? v.slice(1, -1) : v);

/** The entries of a unittests.cfg text, in file order. */
export function parseUnittestsCfg(text: string): KutEntry[] {
  const out: KutEntry[] = [];
  let cur: Record<string, string> | null = null;
  let name = "";
  const flush = () => {
    if (!cur) return;
    const smpText = cur.smp ?? "1";
    const t = cur.timeout;
    out.push({
      name,
      file: cur.file ?? "",
      smp: /^\d+$/.test(smpText) ? Number(smpText) : NaN,
      smpText,
      testArgs: unquote(cur.test_args ?? cur.extra_params?.replace(/^-append\s+/, "") ?? ""),
      qemuParams: cur.qemu_params ?? "",
      groups: (cur.groups ?? "").split(/\s+/).filter(Boolean),
      arch: cur.arch,
      accel: cur.accel,
      timeout: t ? Number(t.replace(/s$/, "")) : undefined,
      disabledIf: cur.disabled_if,
    });
  };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+$/, "");
    if (/^\s*#/.test(line) || line.trim() === "") continue;
    const sec = /^\[(.+)\]$/.exec(line.trim());
    if (sec) {
      flush();
      name = sec[1]!;
      cur = {};
      continue;
    }
    const kv = /^\s*(\w+)\s*=\s*(.*)$/.exec(line);
    if (kv && cur) cur[kv[1]!] = kv[2]!.trim();
  }
  flush();
  return out;
}
