// Documentation of every statement (one example each): `help`, the kernel's inspect, and the
// README language reference are all written from this table.

import type { Pos } from "../grammar/ast.js";
import { SETTINGS, suggestion } from "../grammar/words.js";
import { parseNumber } from "../grammar/nodes.js";
import type { Arch, TrapKind } from "../runtime/core/machine.js";
import { nameError } from "./errors.js";
import type { Session } from "./session.js";
import { decoders, trapHelp, TRAPS } from "./vocabulary.js";

/** `cr0 cr3 cr4 cr8, msr N, io PORT, ...`: a trap table in one line. */
const trapLine = (traps: readonly TrapKind[]) => traps.map((t) => (t.forms ? t.forms.join(" ") : t.name + (t.arg ? ` ${t.arg}` : ""))).join(", ");

export interface StatementDoc {
  keyword: string;
  syntax: string;
  doc: string;
  example: string;
}

export const STATEMENT_DOCS: StatementDoc[] = [
  { keyword: "vm", syntax: "vm boot [ARCH] [guest NAME | from \"FILE.s\" | asm [ARCH] [mode 16|32|64] { ... } | image \"FILE\" [append \"ARGS\"] [mem MIB] | multiboot \"FILE\" [append \"ARGS\"] [mem MIB] | bzimage \"FILE\" [append \"ARGS\"] [mem MIB]] [as NAME]", doc: "Boot a VM (arm64 or x86_64; without one, the asm block's architecture, else the session's default: `set arch`, x86_64 unless changed) with a built-in guest (default `boot`, the talk's MMU-enable guest), an assembly file, an inline asm block, or a binary loaded as QEMU's -kernel loads it (arm64 `image`: ELF, Linux Image or raw image, the device tree's bootargs from `append`; x86_64 `multiboot`: a multiboot ELF kernel, the command line from `append`; x86_64 `bzimage`: a Linux bzImage at 1 MiB, entered by Linux's 64-bit boot protocol (32-bit for a kernel without XLF_KERNEL_64) with RSI = struct boot_params, the command line from `append`, `initrd` in ramdisk_image/size; `mem` sets the guest RAM in MiB as QEMU's -m, default 128); it becomes the current VM. x86 asm blocks start in 64-bit long mode with the loader's identity-mapping page tables (the first 4 GiB; GDT and tables in the top 32 KiB of RAM, the stack just below), `mode 32` in protected mode as Multiboot leaves it, `mode 16` in real mode at 0000:7c00; `from` files start in mode 32.", example: "vm boot x86_64 as intel" },
  { keyword: "use", syntax: "use NAME", doc: "Make another VM the current one.", example: "use intel" },
  { keyword: "trap", syntax: "trap KIND [ARG]", doc: `Set the controls a hypervisor would set so that this happens to exit. x86_64: ${trapLine(TRAPS.x86_64)}. arm64: ${trapLine(TRAPS.arm64)}.`, example: "trap msr 0xc0000080" },
  { keyword: "untrap", syntax: "untrap KIND [ARG]", doc: "Clear what `trap` set: the guest does it without exiting.", example: "untrap cr3" },
  { keyword: "step", syntax: "step [N] | step until exit | step until CONDITION", doc: "Execute guest instructions without handling exits: one, N, up to the next exit, or until a condition holds (an exit also stops it).", example: "step until exit" },
  { keyword: "handle", syntax: "handle", doc: "Let the modelled KVM handle the pending exit; the guest resumes unless KVM stops it.", example: "handle" },
  { keyword: "run", syntax: "run [until halt | until CONDITION] [limit N]", doc: "Step and handle exits until the guest halts, the condition holds or the step limit (instructions + exits) is reached.", example: "run until halt limit 100000" },
  { keyword: "show", syntax: "show regs | exit | vmcs [GROUP] | esr | sysregs | mem ADDR LEN | disasm [ADDR] [N] | trace [last N] | console | exits | VIEW", doc: "Show machine state as a table or text; VIEW is any view the machine offers (x86: controls, ept, stats, switch — what VMX moves through the VMCS per exit vs what KVM moves by hand; arm64: gic — the vGIC's distributor and list registers, timer — the counter and the EL1 timers, switch — the last exit's world switch as executed at EL2, costs — modelled hypercall round trips vs the papers).", example: "show trace last 6" },
  { keyword: "table", syntax: "table exits|NAME [by reason]", doc: "A table of the exits of the current VM, a named VM or a loaded trace; `by reason` counts them with their modelled cycles.", example: "table exits by reason" },
  { keyword: "chart", syntax: "chart [NAME] exits|cycles by reason | chart [NAME] exits|cycles over time | chart compare NAME NAME — each [where CONDITION] [without console] | chart sql \"QUERY\"", doc: "A vega-lite chart: exits or their modelled cycles by reason, their running total against guest instructions, or two VMs or loaded traces side by side (exits and cycles per reason); `chart sql` draws a query's rows as bars (labels from its first column, lengths from its first numeric column). `where` keeps the exits the condition holds for; `without console` leaves out the guest's console I/O (x86 COM1 port I/O, arm64 PL011 MMIO).", example: "chart compare intel arm without console" },
  { keyword: "compare", syntax: "compare NAME NAME", doc: "Side by side: exits and cycles by reason of two VMs or loaded traces.", example: "compare intel arm" },
  { keyword: "let", syntax: "let NAME = EXPR", doc: "Name a value. It keeps how its number reads: hex for hardware state (registers, addresses, syndromes, qualifications), decimal for counts.", example: "let faults = count(exits where reason == EPT_VIOLATION)" },
  { keyword: "print", syntax: "print EXPR, ...", doc: "Write the values, separated by spaces, on standard output: strings as they are, numbers as the field reads them. A bare expression on its own line is a value instead: the REPL echoes it, the kernel shows it as the cell's result.", example: "print \"exits:\", count(exits)" },
  { keyword: "expect", syntax: "expect CONDITION [, \"MESSAGE\"]", doc: "Check a condition; a false one is an ExpectationFailed error showing both sides (the CLI exits with 1).", example: "expect exit.qual.cr == 0, \"the last CR exit writes CR0\"" },
  { keyword: "set", syntax: "set NAME VALUE [for VM]", doc: "Change a setting (with `for VM`, that booted VM's only): " + Object.entries(SETTINGS).map(([k, v]) => `${k} (${v})`).join("; ") + ".", example: "set steplimit 5000000" },
  { keyword: "save", syntax: "save trace [NAME] \"FILE\"", doc: "Write the current VM's (or NAME's) trace: tracepoint text lines, or with a .parquet, .csv or .json name its events in columns (seq, ts, cycles, step, cpu, vcpu, task, pid, event, reason, code, pc, info1, info2, intr_info, error_code, gpa, body, cost) for DuckDB, Spark or Trino.", example: "save trace host \"host.parquet\"" },
  { keyword: "load", syntax: "load trace \"FILE\" [as NAME]", doc: "Read a real host's trace — raw ftrace text, `trace-cmd report`, `perf script` of kvm:* events, of 2015-era or current kernels, x86 or arm64 — or a saved `perf kvm stat report`, or exitlab's own `save trace` text, so `table`, `count(NAME where …)`, `first`, `chart`, `compare`, `stat` and `sql` can use it. Other events are kept as generic events; malformed lines are reported by line number and skipped.", example: "load trace \"host.trace\" as host" },
  { keyword: "stat", syntax: "stat [NAME]", doc: "`perf kvm stat report` of the current VM, a named VM or a loaded trace: per exit reason, samples, samples %, time %, min/max/avg time and the mean's ± %; times from timestamps (kvm_exit to the next kvm_entry of the same vCPU thread, µs) for real traces, modelled cycles for VMs.", example: "stat host" },
  { keyword: "sql", syntax: "sql \"QUERY\"", doc: "A SQL query on DuckDB over every VM and loaded trace, each a table by its name with the event columns (seq, ts, cycles, step, cpu, vcpu, task, pid, event, reason, code, pc, info1, info2, intr_info, error_code, gpa, body, cost); the result is a table. DuckDB starts on the first query.", example: "sql \"select reason, count(*), avg(cost) from host where event = 'kvm_exit' group by reason\"" },
  { keyword: "help", syntax: "help [TOPIC | NUMBER]", doc: "This help; TOPIC is a statement, an exit reason, a register or a setting; NUMBER an exit number (the x86 basic exit reason and the arm64 exception class of that number).", example: "help trap" },
  { keyword: "irq", syntax: "irq N", doc: "The VMM raises interrupt N of the current arm64 VM (KVM_IRQ_LINE, traced as kvm_irq_line): a PPI (16..31: to the vCPU `vcpu N` selected) or SPI (32..287) INTID of its vGIC; the vCPU it reaches, if running, is kicked, so its next run starts with an IRQ exit and the interrupt reaches the guest at entry. `show gic` shows where it is. x86: vector N (16-255) into the local APIC (KVM_SIGNAL_MSI), taken once the guest can; `show apic`. x86 `irq gsi N [high|low]`: KVM_IRQ_LINE of GSI N (0-23; traced kvm_set_irq, kvm_pic_set_irq, kvm_ioapic_set_irq) through the PIC (GSIs 0-15; its INTR reaches a vCPU whose LVT0 is ExtINT) and the I/O APIC; pulsed (high, then low) unless a level is given.", example: "irq 40" },
  { keyword: "decode", syntax: "decode REGISTER [KIND] VALUE", doc: "Decode a value field by field, as the machine's own tables read it: esr, hcr (arm64); qual cr|io|ept, intr, vmcs CONTROL_FIELD (x86_64).", example: "decode esr 0x92000045" },
];

/** The manual's name for an arch's exit numbers. */
const EXIT_NUMBER: Record<Arch, string> = { x86_64: "VMX basic exit reason", arm64: "ESR_ELx.EC exception class" };

export const EXPRESSION_DOC = "Expressions: numbers (0x1f, 0b101, 1_000, 64k), strings, registers of the current VM (rax, cr0, x0, pc...), variables, exit reasons (CR_ACCESS), `exit.FIELD` (reason, pc, code, step, cycles and every field of the exit's info: exit.qual.cr, exit.esr.iss.srt), shorthand `qual.cr`, `esr.iss.srt`, `vmcs.FIELD`, `exits[i].FIELD`, `count(exits [where COND])`, `first(exits where COND)` (the index of the first match), operators || && == != < <= > >= | ^ & << >> + - * / % ! ~ -.";

export function helpText(topic: string | undefined, session: Session, pos?: Pos): string {
  if (!topic) {
    return ["exitlab statements:", ...STATEMENT_DOCS.map((d) => `  ${d.syntax}`), "", EXPRESSION_DOC, "", "`help TOPIC` for one statement, exit reason, register or setting."].join("\n");
  }
  const t = topic.toLowerCase();
  if (/^[0-9]/.test(t)) return exitNumberHelp(topic, session, pos);
  const d = STATEMENT_DOCS.find((x) => x.keyword === t) ?? (t === "boot" ? STATEMENT_DOCS[0] : undefined);
  if (d) {
    // A statement and an exit reason of the same word (`irq`, `IRQ`): both.
    const same = Object.values(session.factory.archInfo).flatMap((info) => (info?.exitReasons ?? []).filter((r) => r.name.toLowerCase() === t).map((r) => `\n${r.name}${r.code !== undefined ? ` (${r.code})` : ""}, ${info!.arch} exit reason: ${r.doc}`));
    return `${d.syntax}\n  ${d.doc}\n  example: ${d.example}${moreHelp(d.keyword, session)}${same.join("")}`;
  }
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

/** The lists behind `help trap` and `help decode`, from the machines' own tables. */
function moreHelp(keyword: string, session: Session): string {
  if (keyword === "trap" || keyword === "untrap") {
    return Object.values(session.factory.archInfo).map((i) => (i ? `\n${i.arch} trap kinds:\n${trapHelp(i).join("\n")}` : "")).join("");
  }
  if (keyword === "decode") {
    return "\nregisters:\n" + decoders(session).map(({ arch, decoder: d }) => `  ${d.name}${d.kinds ? " KIND" : ""} (${arch}): ${d.doc}${d.kinds ? `; KIND: ${d.kinds.map((k) => k.name).join(", ")}` : ""}`).join("\n");
  }
  return "";
}

/** `help 49`, `help 0x31`: every arch's exit reason of that number. */
function exitNumberHelp(topic: string, session: Session, pos?: Pos): string {
  let n: bigint;
  try {
    n = parseNumber(topic);
  } catch {
    throw nameError(`\`${topic}\` is not a number`, pos);
  }
  const lines: string[] = [];
  for (const info of Object.values(session.factory.archInfo)) {
    for (const r of info?.exitReasons.filter((x) => x.code !== undefined && BigInt(x.code) === n) ?? []) {
      lines.push(`  ${info!.arch} ${EXIT_NUMBER[info!.arch]} ${n} (0x${n.toString(16)}): ${r.name}: ${r.doc}${r.source ? `\n    source: ${r.source}` : ""}`);
    }
  }
  if (!lines.length) {
    throw nameError(`no exit reason or exception class is numbered ${n} (0x${n.toString(16)})`, pos, "to decode a whole register value: `decode esr VALUE`, `decode qual ept VALUE`");
  }
  return [`exits numbered ${n} (0x${n.toString(16)}):`, ...lines].join("\n");
}
