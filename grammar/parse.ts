// Parsing entry points: source → typed AST, or a SyntaxError that says where, what was expected
// in words, and "did you mean" for a misspelled keyword.

import nearley from "nearley";
import compiled from "./exitlab.gen.js";
import type { Pos, Program, Statement } from "./ast.js";
import { LexError, TokenStream, tokenize, tokenPos, type Token } from "./lexer.js";
import { suggestion, ALL_KEYWORDS, SETTINGS, STATEMENT_KEYWORDS } from "./words.js";
import { parseNumber } from "./nodes.js";
// The machines' own trap tables (plain data), so the message names every kind `trap` takes.
import { X86_TRAPS } from "../runtime/x86/traps.js";
import { ARM64_TRAPS } from "../runtime/arm64/traps.js";

import { MASK64 as MAX_U64 } from "../runtime/core/bits.js";

/** Most brackets `(`/`[` open at once: deeper expressions are refused before parsing. */
export const MAX_NESTING = 100;
/** Longest program text parsed at once (characters): a larger cell or file is refused. */
export const MAX_SOURCE = 1 << 20;

/** A syntax error at a position, with the expectation in words and an optional hint. */
export class ExitlabSyntaxError extends Error {
  constructor(message: string, readonly pos: Pos, readonly hint?: string, readonly expected: string[] = []) {
    super(message);
    this.name = "SyntaxError";
  }
}

const DESCRIBE: Record<string, string> = {
  number: "a number",
  string: "a string",
  word: "a name",
  asmbody: "an asm block `{ ... }`",
  nl: "the end of the statement",
  ";": "the end of the statement",
};

/** What a `word` means in the rule that expects it. */
const RULE_WORDS: Record<string, string> = {
  archName: "an architecture (arm64 or x86_64)",
  vmName: "a VM name",
  trapKind: `a trap kind (x86_64: ${X86_TRAPS.flatMap((t) => t.forms ?? [t.name]).join(", ")}; arm64: ${ARM64_TRAPS.map((t) => t.name).join(", ")})`,
  viewName: "what to show (regs, exit, vmcs, esr, sysregs, mem, disasm, trace, console, exits)",
  fieldName: "a field to group by (reason)",
  chartMeasure: "what to chart (exits or cycles)",
  chartOption: "`where COND` or `without console`",
  varName: "a variable name",
  settingName: `a setting (${Object.keys(SETTINGS).join(", ")})`,
  decodeWord: "a register to decode (`help decode` lists them)",
  imageWord: "`image`, `multiboot` or `bzimage`",
};

interface Symbol_ {
  type?: string;
  literal?: string;
}

function describe(sym: Symbol_): string {
  if (sym.type) {
    if (sym.type.startsWith("kw_")) return "`" + sym.type.slice(3) + "`";
    return DESCRIBE[sym.type] ?? "`" + sym.type + "`";
  }
  return DESCRIBE[sym.literal ?? ""] ?? "`" + sym.literal + "`";
}

/** "a, b or c" */
function orList(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? "nothing") : items.slice(0, -1).join(", ") + " or " + items[items.length - 1];
}

interface ParserInternals {
  table: { scannable: { rule: { name: string; symbols: Symbol_[] }; dot: number }[] }[];
  current: number;
}

function expectations(parser: nearley.Parser): { words: string[]; keywords: string[]; wantsWord: boolean } {
  const p = parser as unknown as ParserInternals;
  const column = p.table[p.current];
  const seen = new Set<string>();
  const keywords: string[] = [];
  let wantsWord = false;
  for (const st of column?.scannable ?? []) {
    const sym = st.rule.symbols[st.dot]!;
    // `irq` where a name may stand is the IRQ exit reason's name: "a name" says it.
    const d = (sym.type === "word" && RULE_WORDS[st.rule.name]) || (sym.type === "kw_irq" && st.rule.name === "path" ? describe({ type: "word" } as typeof sym) : describe(sym));
    if (sym.type === "word") wantsWord = true;
    // A keyword that can also be a field name (after `exit.`) is listed once as "a name".
    seen.add(d);
    if (sym.type?.startsWith("kw_")) keywords.push(sym.type.slice(3));
  }
  let words = [...seen];
  // After `exit.`/a dot every keyword is a valid field name: say "a name" rather than 34 keywords.
  if (keywords.length > 20) words = words.filter((w) => !w.startsWith("`") || !keywords.includes(w.slice(1, -1)));
  // Put names/numbers first, then punctuation and keywords, end of statement last; dedupe.
  const rank = (w: string) => (w.startsWith("a ") || w.startsWith("an ") ? 0 : w.startsWith("the end") ? 2 : 1);
  words = [...new Set(words)].sort((a, b) => rank(a) - rank(b));
  // At the start of a statement, name the category instead of listing all 17 keywords.
  const starters = keywords.filter((k) => (STATEMENT_KEYWORDS as readonly string[]).includes(k));
  if (starters.length >= 10) words = ["a statement (" + STATEMENT_KEYWORDS.join(", ") + ") or an expression"];
  // `show`: the keyword targets are already in the list of things to show.
  if (words.some((w) => w.startsWith("what to show"))) words = words.filter((w) => !["`trace`", "`exit`", "`exits`"].includes(w));
  return { words, keywords, wantsWord };
}

/** Longest token text an error message quotes. */
const QUOTE_MAX = 40;

/** Token text as an error message quotes it: at most QUOTE_MAX characters. */
const clip = (text: string) => (text.length > QUOTE_MAX ? text.slice(0, QUOTE_MAX) + "…" : text);

function tokenDescription(t: Token): string {
  const text = clip(t.text);
  if (t.type === "nl") return "end of line";
  if (t.type === "asmbody") return "asm block";
  if (t.type === "string") return `string ${text}`;
  if (t.type === "number") return `number ${text}`;
  return "`" + text + "`";
}

export interface ParseOutcome {
  program: Program;
  /** How many parses nearley found (1 for every valid program; more means an ambiguity). */
  parses: number;
}

/** Parse and also report the number of parses (for the one-parse property). */
export function parseWithCount(source: string): ParseOutcome {
  if (source.length > MAX_SOURCE) {
    const before = source.slice(0, MAX_SOURCE);
    const line = before.split("\n").length;
    const pos: Pos = { line, col: MAX_SOURCE - before.lastIndexOf("\n"), offset: MAX_SOURCE, end: MAX_SOURCE + 1 };
    throw new ExitlabSyntaxError(`the program is ${source.length} characters long: at most ${MAX_SOURCE} are read at once`, pos, "split it into smaller cells or files");
  }
  let tokens: Token[];
  try {
    tokens = tokenize(source);
  } catch (e) {
    if (e instanceof LexError) throw new ExitlabSyntaxError(e.message, e.pos, e.hint);
    throw e;
  }
  for (const t of tokens) {
    if (t.type === "number" && parseNumber(t.text) > MAX_U64) {
      throw new ExitlabSyntaxError(`the number \`${clip(t.text)}\` does not fit in 64 bits`, tokenPos(t), "numbers are unsigned 64-bit: at most 0xffff_ffff_ffff_ffff");
    }
  }
  checkNesting(tokens);
  // One statement at a time: separators (newline, `;`) only ever separate statements, so each
  // statement parses alone with the separator after it, and the Earley chart stays one
  // statement long (a whole 50,000-statement program at once took gigabytes).
  const statements: Statement[] = [];
  let parses = 1;
  let from = 0;
  while (from < tokens.length) {
    let to = from;
    while (to < tokens.length && !isSeparator(tokens[to]!)) to++;
    if (to > from) {
      const r = parseStatement(tokens, from, Math.min(to + 1, tokens.length), source);
      statements.push(r.statement);
      parses = Math.max(parses, r.parses);
    }
    from = to + 1;
  }
  return { program: { statements, source }, parses };
}

/** The compiled grammar, built once; each parse gives it its own token stream. */
let grammarOnce: nearley.Grammar | undefined;
const GRAMMAR = () => (grammarOnce ??= nearley.Grammar.fromCompiled(compiled as unknown as nearley.CompiledRules));

const isSeparator = (t: Token) => t.type === "nl" || t.type === ";";

/** tokens[from, to): one statement, followed by its separator unless it ends the program. */
function parseStatement(tokens: Token[], from: number, to: number, source: string): { statement: Statement; parses: number } {
  const grammar = GRAMMAR();
  grammar.lexer = new TokenStream(tokens.slice(from, to)) as unknown as nearley.Lexer;
  const parser = new nearley.Parser(grammar);
  // nearley's own message walks every expectant state's stack (seconds for 300 open brackets);
  // ours is built from the chart afterwards (expectations), so its text is never needed.
  (parser as unknown as { reportError: () => string }).reportError = () => "syntax error";
  try {
    parser.feed("");
  } catch (e) {
    const bad = (e as { token?: Token }).token;
    if (!bad) throw e;
    throw misspelledStatement(tokens, bad) ?? unexpected(parser, bad, loneExitHint(tokens, tokens.indexOf(bad)));
  }
  if (parser.results.length === 0) {
    const end = source.length;
    const lines = source.split("\n");
    const pos: Pos = { line: lines.length, col: lines[lines.length - 1]!.length + 1, offset: end, end };
    const { words } = expectations(parser);
    throw new ExitlabSyntaxError(`the program ends too early: expected ${orList(words)}`, pos, loneExitHint(tokens, tokens.length), words);
  }
  const statements = parser.results[0] as Statement[];
  return { statement: statements[0]!, parses: parser.results.length };
}

/**
 * Brackets counted before nearley sees them: more than MAX_NESTING open at once is a SyntaxError at
 * the bracket that goes too deep (the Earley chart grows with the depth). Unbalanced brackets are
 * left to the parser, which names what it expected there.
 */
function checkNesting(tokens: readonly Token[]): void {
  let depth = 0;
  for (const t of tokens) {
    if (t.type === "nl" || t.type === ";") depth = 0;
    else if (t.type === "(" || t.type === "[") {
      if (++depth > MAX_NESTING) throw new ExitlabSyntaxError(`brackets nest more than ${MAX_NESTING} deep`, tokenPos(t), "split the expression into steps with `let`");
    } else if ((t.type === ")" || t.type === "]") && depth > 0) depth--;
  }
}

/**
 * `stpe 5`: a word at the start of a statement parses as an expression, so the parser stops at
 * what follows it. When that word is close to a statement keyword, the error is the word.
 */
function misspelledStatement(tokens: Token[], bad: Token): ExitlabSyntaxError | undefined {
  const i = tokens.indexOf(bad);
  const word = tokens[i - 1];
  const before = tokens[i - 2];
  if (!word || word.type !== "word" || (before && before.type !== "nl" && before.type !== ";")) return undefined;
  const hint = suggestion(word.text, STATEMENT_KEYWORDS);
  if (!hint) return undefined;
  const what = "a statement (" + STATEMENT_KEYWORDS.join(", ") + ") or an expression";
  return new ExitlabSyntaxError(`unexpected \`${word.text}\`: expected ${what}`, tokenPos(word), hint, [what]);
}

/** `exit` alone as a statement (tokens[at] ends it): the REPL's way out, not a statement. */
function loneExitHint(tokens: Token[], at: number): string | undefined {
  const end = tokens[at];
  const before = tokens[at - 2];
  if (tokens[at - 1]?.type !== "kw_exit" || (end && end.type !== "nl" && end.type !== ";") || (before && before.type !== "nl" && before.type !== ";")) return undefined;
  return "`exit` (or `quit`) on its own leaves the REPL; in a program, `exit.FIELD` is a field of the current exit (`exit.reason`)";
}

function unexpected(parser: nearley.Parser, bad: Token, exitHint?: string): ExitlabSyntaxError {
  const { words, keywords, wantsWord } = expectations(parser);
  const pos = tokenPos(bad);
  let hint = exitHint;
  if (!hint && (bad.type === "word" || bad.type.startsWith("kw_"))) {
    const pool = keywords.length ? keywords : [];
    hint = suggestion(bad.text, pool);
    if (!hint && keywords.some((k) => (STATEMENT_KEYWORDS as readonly string[]).includes(k))) hint = suggestion(bad.text, STATEMENT_KEYWORDS);
    if (!hint && bad.type.startsWith("kw_") && wantsWord) hint = `\`${bad.text}\` is a keyword and cannot be used as a name`;
  }
  if (!hint && bad.type === "nl" && words.includes("the end of the statement") === false) hint = undefined;
  void ALL_KEYWORDS;
  return new ExitlabSyntaxError(`unexpected ${tokenDescription(bad)}: expected ${orList(words)}`, pos, hint, words);
}

/** Source text → AST (throws ExitlabSyntaxError). */
export function parse(source: string): Program {
  return parseWithCount(source).program;
}
