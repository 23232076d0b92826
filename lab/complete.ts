// Completion, inspection and is-complete for the Jupyter kernel and the REPL.

import { KEYWORDS } from "../grammar/lexer.js";
import { tokenize } from "../grammar/lexer.js";
import { parse, ExitlabSyntaxError } from "../grammar/parse.js";
import { SETTINGS, SETTING_VALUES, SHOW_TARGETS, STATEMENT_KEYWORDS } from "../grammar/words.js";
import { decoders, sessionArch, trapWords } from "./vocabulary.js";
import { STATEMENT_DOCS } from "./help.js";
import type { Session } from "./session.js";
import { formatValue, hex } from "./values.js";

function wordAt(code: string, pos: number): { start: number; end: number; word: string } {
  let start = pos;
  while (start > 0 && /[A-Za-z0-9_.]/.test(code[start - 1]!)) start--;
  let end = pos;
  while (end < code.length && /[A-Za-z0-9_]/.test(code[end]!)) end++;
  return { start, end, word: code.slice(start, end) };
}

/** Words that fit at `cursorPos`: keywords, registers, exit reasons, sysregs, settings, views, VMs. */
export function complete(session: Session, code: string, cursorPos: number): { matches: string[]; start: number; end: number } {
  const { start, word } = wordAt(code, cursorPos);
  const lineStart = code.lastIndexOf("\n", start - 1) + 1;
  const before = code.slice(lineStart, start).trim().toLowerCase();
  // The current VM's arch, else the session's default: what `trap`, `show` and `decode` would use.
  const info = session.info(sessionArch(session));
  let pool: string[];
  if (before === "" || before.endsWith(";")) pool = [...STATEMENT_KEYWORDS];
  else if (/^(un)?trap$/.test(before)) pool = trapWords(info);
  else if (/^(un)?trap sysreg$/.test(before)) pool = (info?.vocabulary.sysreg ?? []).map((d) => d.name);
  else if (before === "decode") pool = decoders(session).map((d) => d.decoder.name);
  else if (/^decode \w+$/.test(before)) pool = (decoders(session).find((d) => d.decoder.name === before.slice(7))?.decoder.kinds ?? []).map((k) => k.name);
  else if (before === "show") pool = [...new Set([...SHOW_TARGETS, ...(info?.viewNames ?? [])])];
  else if (before === "set") pool = Object.keys(SETTINGS);
  else if (/^set \w+$/.test(before)) pool = [...((SETTING_VALUES as Record<string, readonly string[] | undefined>)[before.slice(4)] ?? [])];
  else if (/^show \w+$/.test(before) && info?.viewArgs[before.slice(5)]) pool = [...info.viewArgs[before.slice(5)]!];
  else if (before === "use") pool = [...session.vms.keys()];
  else if (before === "compare" || /^compare \w+$/.test(before) || before === "stat" || before === "save trace") pool = [...session.vms.keys(), ...session.traces.keys()];
  else if (before === "vm boot" || before === "vm") pool = before === "vm" ? ["boot"] : ["arm64", "x86_64"];
  else if (/^chart\b/.test(before) && !/\bwhere\b/.test(before)) pool = chartWords(before, [...session.vms.keys(), ...session.traces.keys()]);
  else {
    pool = [...KEYWORDS, ...session.variables.keys(), ...(info?.registerNames ?? []), ...session.reasonNames()];
    if (word.startsWith("exit.")) {
      const e = session.current?.machine.pendingExit ?? session.current?.machine.exits.at(-1);
      pool = ["reason", "pc", "code", "step", "cycles", "index", ...Object.keys(e?.info ?? {})].map((f) => "exit." + f);
    }
  }
  const w = word.toLowerCase();
  const matches = [...new Set(pool)].filter((p) => p.toLowerCase().startsWith(w)).sort();
  return { matches, start, end: cursorPos };
}

/**
 * The words that can follow a `chart` statement so far (grammar/exitlab.ne's chart rule):
 * what to chart, its shape, then filters; `names` are the VMs and loaded traces.
 */
function chartWords(before: string, names: string[]): string[] {
  const w = before.split(/\s+/);
  const last = w[w.length - 1]!;
  if (w.length === 1) return ["exits", "cycles", "compare", ...names];
  if (w[1] === "compare") return w.length < 4 ? names : ["where", "without"];
  if (last === "by") return ["reason"];
  if (last === "over") return ["time"];
  if (last === "without") return ["console"];
  if (w.includes("by") || w.includes("over")) return ["where", "without"];
  if (last === "exits" || last === "cycles") return ["by", "over"];
  return ["exits", "cycles", "by", "over"];
}

/** Documentation for the word under the cursor, with a register's current value. */
export function inspect(session: Session, code: string, cursorPos: number): string | undefined {
  const { word } = wordAt(code, cursorPos);
  const w = word.toLowerCase();
  if (!w) return undefined;
  const d = STATEMENT_DOCS.find((x) => x.keyword === w);
  if (d) return `${d.syntax}\n\n${d.doc}\n\nexample: ${d.example}`;
  if (w in SETTINGS) return `setting ${w}: ${SETTINGS[w]}`;
  const vm = session.current;
  if (vm && vm.machine.registerNames().some((r) => r.toLowerCase() === w)) {
    return `${w} (${vm.arch} register of VM ${vm.name}) = ${hex(vm.machine.readRegister(w))}`;
  }
  if (session.variables.has(word)) return `variable ${word} = ${formatValue(session.variables.get(word)!, session.variableRadix.get(word))}`;
  const infos = vm ? [session.info()] : Object.values(session.factory.archInfo);
  for (const info of infos) {
    if (!info) continue;
    const r = info.exitReasons.find((x) => x.name.toLowerCase() === w);
    if (r) return `${r.name}${r.code !== undefined ? ` (${r.code})` : ""}: ${info.arch} exit reason. ${r.doc}${r.source ? `\nsource: ${r.source}` : ""}`;
    for (const [kind, list] of Object.entries(info.vocabulary)) {
      const v = list.find((x) => x.name.toLowerCase() === w);
      if (v) return `${v.name} (${kind.replace(/_/g, " ")}${v.code !== undefined ? ` ${hex(v.code)}` : ""}): ${v.doc}${v.source ? `\nsource: ${v.source}` : ""}`;
    }
  }
  return undefined;
}

/** "incomplete" while an asm block is open or the last line ends in an operator; "invalid" on other syntax errors. */
export function isComplete(code: string): "complete" | "incomplete" | "invalid" {
  try {
    tokenize(code);
  } catch (e) {
    if (e instanceof Error && /unclosed `\{`/.test(e.message)) return "incomplete";
    return "invalid";
  }
  try {
    parse(code);
    return "complete";
  } catch (e) {
    if (e instanceof ExitlabSyntaxError && e.message.startsWith("the program ends too early")) return "incomplete";
    return "invalid";
  }
}
