// Completion and help know everything the machines know: every trap kind a machine accepts is
// offered by completion and documented by help, every setting likewise, every decoder too; and no
// hint names a setting that does not exist.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { Session } from "../../lab/session.js";
import { complete } from "../../lab/complete.js";
import { helpText } from "../../lab/help.js";
import { SETTINGS, SETTING_ALIASES, SETTING_VALUES } from "../../grammar/words.js";
import { settingDef, MACHINE_SETTINGS } from "../../runtime/core/settings.js";
import { archInfo, createMachine } from "../../runtime/index.js";
import { HCR_BITS } from "../../runtime/arm64/el2.js";
import { CONTROL_FIELDS } from "../../runtime/x86/vmx/controls.js";
import type { Arch } from "../../runtime/core/machine.js";

const ARCHES: Arch[] = ["x86_64", "arm64"];
const root = new URL("../../", import.meta.url).pathname;
const session = async (arch?: Arch) => {
  const s = await Session.create();
  if (arch) expect(s.execute(`vm boot ${arch}`)[0]!.kind).toBe("text");
  return s;
};
const words = (t: { name: string; forms?: readonly string[] }) => [...(t.forms ?? [t.name])];

describe("trap kinds: one table per arch", () => {
  test.each(ARCHES)("%s: every kind's example runs, completion offers it, help documents it", async (arch) => {
    const s = await session(arch);
    const offered = complete(s, "trap ", 5).matches;
    const help = helpText("trap", s);
    for (const t of archInfo[arch]!.traps) {
      const r = s.execute(t.example);
      expect(r.map((x) => x.kind), `${t.example}: ${JSON.stringify(r)}`).toEqual(["text"]);
      for (const w of words(t)) {
        expect(offered, `trap ${w}`).toContain(w);
        expect(help, `help trap: ${w}`).toMatch(new RegExp(`\\b${w}\\b`));
        expect(complete(s, `untrap ${w.slice(0, 2)}`, 8).matches).toContain(w);
      }
    }
    // Nothing beyond the table: completion offers exactly the table's words.
    expect(offered).toEqual([...new Set(archInfo[arch]!.traps.flatMap(words))].sort());
  });

  test.each(ARCHES)("%s: the machine accepts no trap kind outside its table", (arch) => {
    const m = createMachine(arch, {});
    const table = new Set(archInfo[arch]!.traps.map((t) => t.name));
    // Candidates: both tables, every HCR_EL2 bit and VMX control, and near misses.
    const pool = new Set([
      ...ARCHES.flatMap((a) => archInfo[a]!.traps.flatMap((t) => [t.name, ...(t.forms ?? [])])),
      ...HCR_BITS.map((b) => b.name.toLowerCase()),
      ...CONTROL_FIELDS.flatMap((c) => c.bits.map((b) => b.name.toLowerCase())),
      "tlbi", "ttlb", "cr2", "pause", "mwait", "vmcall", "tsc", "hcd", "tid3", "dc", "rdpmc",
    ]);
    for (const k of pool) {
      let accepted = true;
      for (const arg of [undefined, 0, 3, "sctlr_el1"]) {
        try {
          m.setTrap({ kind: k, arg }, true);
          accepted = true;
          break;
        } catch (e) {
          accepted = !/unknown .* trap kind/.test((e as Error).message);
          if (accepted) break;
        }
      }
      if (accepted) expect(table.has(k), `${arch} accepts trap ${k}`).toBe(true);
    }
  });

  test("`trap cr` completes to cr0 cr3 cr4 cr8; `trap ` without a VM offers the default arch's kinds", async () => {
    const s = await session();
    expect(complete(s, "trap cr", 7).matches).toEqual(["cr0", "cr3", "cr4", "cr8"]);
    expect(complete(s, "trap ", 5).matches).toEqual([...new Set(archInfo.x86_64!.traps.flatMap(words))].sort());
    const a = await session("arm64");
    expect(complete(a, "trap t", 6).matches).toEqual(["tlb", "trvm", "tvm"]);
  });
});

describe("settings: one list", () => {
  test("`set ` offers every setting; each is documented, validated by the machines' table, and its values offered", async () => {
    const s = await session("x86_64");
    expect(complete(s, "set ", 4).matches).toEqual(Object.keys(SETTINGS).sort());
    for (const name of Object.keys(SETTINGS)) {
      expect(helpText(name, s)).toContain(SETTINGS[name]);
      expect(helpText("set", s)).toContain(name);
      const values = (SETTING_VALUES as Record<string, readonly string[]>)[name];
      if (values) expect(complete(s, `set ${name} `, 5 + name.length).matches).toEqual([...values].sort());
      // Every lab setting is checked: by the machines' table, or by a fixed list of values.
      expect(settingDef(SETTING_ALIASES[name] ?? name) !== undefined || values !== undefined, name).toBe(true);
    }
    // And every machine setting can be set from the language.
    for (const d of MACHINE_SETTINGS) expect(Object.keys(SETTINGS).map((k) => SETTING_ALIASES[k] ?? k), d.name).toContain(d.name.toLowerCase());
  });

  test("bad values are ValueErrors from the same table, on either machine", async () => {
    const s = await session("arm64");
    for (const [src, msg] of [["set granule 8k", /granule must be 64k or 4k/], ["set kvm 2016", /kvm must be 2015 or today/], ["set jit maybe", /jit must be on or off/], ["set exitcap 0", /exitcap must be/]] as const) {
      const r = s.execute(src)[0]!;
      expect(r.kind).toBe("error");
      if (r.kind === "error") {
        expect(r.name).toBe("ValueError");
        expect(r.message).toMatch(msg);
      }
    }
    expect(s.execute("set granule 4k")[0]!.kind).toBe("text");
    expect(s.current!.machine.settings.granule).toBe("4k");
  });

  test("no message in the source names a `set X` that is not a setting", () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(ts|ne)$/.test(f) && !f.endsWith(".gen.ts")) files.push(p);
      }
    };
    for (const d of ["runtime", "lab", "grammar", "kernel", "bin"]) walk(join(root, d));
    const named = new Set<string>();
    for (const f of files) for (const m of readFileSync(f, "utf8").matchAll(/`set ([a-z_]\w*)/g)) named.add(m[1]!);
    expect(named.size).toBeGreaterThan(2);
    for (const n of named) expect(Object.keys(SETTINGS), `\`set ${n}\``).toContain(n);
  });
});

describe("decode", () => {
  test("`decode ` offers every register; `decode qual ` and `decode vmcs ` their layouts; help lists them", async () => {
    const s = await session();
    const all = ARCHES.flatMap((a) => archInfo[a]!.decoders.map((d) => d.name));
    expect(complete(s, "decode ", 7).matches).toEqual([...all].sort());
    expect(complete(s, "decode qual ", 12).matches).toEqual(["cr", "ept", "io"]);
    expect(complete(s, "decode vmcs PIN", 15).matches).toEqual(["PIN_BASED_VM_EXEC_CONTROL"]);
    const help = helpText("decode", s);
    for (const n of all) expect(help).toMatch(new RegExp(`^  ${n}\\b`, "m"));
  });
});
