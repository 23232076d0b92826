// Documentation of every statement (one example each): `help`, the kernel's inspect, and the
// README language reference are all written from this table.

import type { Pos } from "../grammar/ast.js";
import { SETTINGS, suggestion } from "../grammar/words.js";
import { nameError } from "./errors.js";
import type { Session } from "./session.js";

export interface StatementDoc {
  keyword: string;
  syntax: string;
  doc: string;
  example: string;
}

export const STATEMENT_DOCS: StatementDoc[] = [
  { keyword: "vm", syntax: "vm boot ARCH [guest NAME | from \"FILE.s\" | asm [ARCH] { ... }] [as NAME]", doc: "Boot a VM (arm64 or x86_64) with a built-in guest (default `boot`, the talk's MMU-enable guest), an assembly file or an inline asm block; it becomes the current VM.", example: "vm boot x86_64 as intel" },
  { keyword: "use", syntax: "use NAME", doc: "Make another VM the current one.", example: "use intel" },
  { keyword: "trap", syntax: "trap KIND [ARG]", doc: "Set the controls a hypervisor would set so that this happens to exit. x86: cr0 cr3 cr4 cr8, msr N, io PORT, hlt, cpuid, rdtsc, invlpg, dr, wbinvd, exception N. arm64: sysreg NAME, tvm, trvm, wfi, wfe, hvc, smc, setway, acr, id.", example: "trap msr 0xc0000080" },
  { keyword: "untrap", syntax: "untrap KIND [ARG]", doc: "Clear what `trap` set: the guest does it without exiting.", example: "untrap cr3" },
  { keyword: "step", syntax: "step [N] | step until exit | step until CONDITION", doc: "Execute guest instructions without handling exits: one, N, up to the next exit, or until a condition holds (an exit also stops it).", example: "step until exit" },
  { keyword: "handle", syntax: "handle", doc: "Let the modelled KVM handle the pending exit; the guest resumes unless KVM stops it.", example: "handle" },
  { keyword: "run", syntax: "run [until halt | until CONDITION] [limit N]", doc: "Step and handle exits until the guest halts, the condition holds or the step limit (instructions + exits) is reached.", example: "run until halt limit 100000" },
  { keyword: "show", syntax: "show regs | exit | vmcs [GROUP] | esr | sysregs | mem ADDR LEN | disasm [ADDR] [N] | trace [last N] | console | exits | VIEW", doc: "Show machine state as a table or text; VIEW is any view the machine offers (x86: controls, ept, stats).", example: "show trace last 6" },
  { keyword: "table", syntax: "table exits|NAME [by reason]", doc: "A table of the exits of the current VM, a named VM or a loaded trace; `by reason` counts them with their modelled cycles.", example: "table exits by reason" },
  { keyword: "chart", syntax: "chart [NAME] exits|cycles by reason | chart [NAME] exits|cycles over time | chart compare NAME NAME — each [where CONDITION] [without console]", doc: "A vega-lite chart: exits or their modelled cycles by reason, their running total against guest instructions, or two VMs or loaded traces side by side (exits and cycles per reason). `where` keeps the exits the condition holds for; `without console` leaves out the guest's console I/O (x86 COM1 port I/O, arm64 PL011 MMIO).", example: "chart compare intel arm without console" },
  { keyword: "compare", syntax: "compare NAME NAME", doc: "Side by side: exits and cycles by reason of two VMs or loaded traces.", example: "compare intel arm" },
  { keyword: "let", syntax: "let NAME = EXPR", doc: "Name a value.", example: "let faults = count(exits where reason == EPT_VIOLATION)" },
  { keyword: "expect", syntax: "expect CONDITION [, \"MESSAGE\"]", doc: "Check a condition; a false one is an ExpectationFailed error showing both sides (the CLI exits with 1).", example: "expect exit.qual.cr == 0, \"the last CR exit writes CR0\"" },
  { keyword: "set", syntax: "set NAME VALUE", doc: "Change a setting: " + Object.entries(SETTINGS).map(([k, v]) => `${k} (${v})`).join("; ") + ".", example: "set steplimit 5000000" },
  { keyword: "save", syntax: "save trace \"FILE\"", doc: "Write the current VM's trace as tracepoint text lines.", example: "save trace \"boot.trace\"" },
  { keyword: "load", syntax: "load trace \"FILE\" [as NAME]", doc: "Read tracepoint text lines (e.g. from a real host's trace-cmd) so `table`, `chart` and `compare` can use them.", example: "load trace \"boot.trace\" as host" },
  { keyword: "help", syntax: "help [TOPIC]", doc: "This help; TOPIC is a statement, an exit reason, a register or a setting.", example: "help trap" },
];

export const EXPRESSION_DOC = "Expressions: numbers (0x1f, 0b101, 1_000, 64k), strings, registers of the current VM (rax, cr0, x0, pc...), variables, exit reasons (CR_ACCESS), `exit.FIELD` (reason, pc, code, step, cycles and every field of the exit's info: exit.qual.cr, exit.esr.iss.srt), shorthand `qual.cr`, `esr.iss.srt`, `vmcs.FIELD`, `exits[i].FIELD`, `count(exits [where COND])`, `first(exits where COND)` (the index of the first match), operators || && == != < <= > >= | ^ & << >> + - * / % ! ~ -.";

export function helpText(topic: string | undefined, session: Session, pos?: Pos): string {
  if (!topic) {
    return ["exitlab statements:", ...STATEMENT_DOCS.map((d) => `  ${d.syntax}`), "", EXPRESSION_DOC, "", "`help TOPIC` for one statement, exit reason, register or setting."].join("\n");
  }
  const t = topic.toLowerCase();
  const d = STATEMENT_DOCS.find((x) => x.keyword === t) ?? (t === "boot" ? STATEMENT_DOCS[0] : undefined);
  if (d) return `${d.syntax}\n  ${d.doc}\n  example: ${d.example}`;
  if (t in SETTINGS) return `set ${t} VALUE\n  ${SETTINGS[t]}`;
  for (const info of Object.values(session.factory.archInfo)) {
    if (!info) continue;
    const r = info.exitReasons.find((x) => x.name.toLowerCase() === t);
    if (r) return `${r.name}${r.code !== undefined ? ` (${r.code})` : ""}, ${info.arch} exit reason: ${r.doc}${r.source ? `\n  source: ${r.source}` : ""}`;
    for (const [kind, list] of Object.entries(info.vocabulary)) {
      const v = list.find((x) => x.name.toLowerCase() === t);
      if (v) return `${v.name} (${info.arch} ${kind.replace(/_/g, " ")}): ${v.doc}${v.source ? `\n  source: ${v.source}` : ""}`;
    }
    if (info.registerNames.some((x) => x.toLowerCase() === t)) return `${topic}: ${info.arch} register`;
  }
  const pool = [...STATEMENT_DOCS.map((x) => x.keyword), ...Object.keys(SETTINGS), ...Object.values(session.factory.archInfo).flatMap((i) => i?.exitReasons.map((r) => r.name) ?? [])];
  throw nameError(`no help on \`${topic}\``, pos, suggestion(topic, pool) ?? "try `help` for the list of statements");
}
