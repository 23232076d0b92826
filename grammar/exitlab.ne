# The exitlab language (nearley). Compiled by `nearleyc` during the build into exitlab.gen.ts.
# Every valid program has exactly one parse: test/grammar checks results.length === 1.
@preprocessor typescript
@{%
import { lexer, span, word as wordOf, num, str, binary } from "./nodes.js";
%}
@lexer lexer

program -> sep:* {% () => [] %}
  | sep:* stmts sep:* {% (d) => d[1] %}
stmts -> statement {% (d) => [d[0]] %}
  | stmts sep:+ statement {% (d) => [...d[0], d[2]] %}
sep -> %nl | ";"

statement -> vmBoot {% id %} | use {% id %} | trap {% id %} | step {% id %} | handle {% id %}
  | run {% id %} | show {% id %} | table {% id %} | chart {% id %} | compare {% id %} | let {% id %}
  | expect {% id %} | set {% id %} | save {% id %} | load {% id %} | help {% id %} | print {% id %}
  | decode {% id %} | irq {% id %} | vcpu {% id %} | ipi {% id %} | stat {% id %} | sql {% id %} | value {% id %}

name -> %word {% (d) => wordOf(d[0]) %}
# Words in fixed places get their own rule so syntax errors can say what is expected there.
archName -> %word {% (d) => wordOf(d[0]) %}
vmName -> %word {% (d) => wordOf(d[0]) %}
trapKind -> %word {% (d) => wordOf(d[0]) %}
viewName -> %word {% (d) => wordOf(d[0]) %}
fieldName -> %word {% (d) => wordOf(d[0]) %}
varName -> %word {% (d) => wordOf(d[0]) %}
settingName -> %word {% (d) => wordOf(d[0]) %}
decodeWord -> %word {% (d) => wordOf(d[0]) %}
nameLike -> %word {% (d) => wordOf(d[0]) %} | anyKw {% (d) => wordOf(d[0]) %}
anyKw -> (%kw_vm | %kw_boot | %kw_guest | %kw_from | %kw_asm | %kw_as | %kw_use | %kw_trap | %kw_untrap
  | %kw_step | %kw_until | %kw_handle | %kw_run | %kw_halt | %kw_limit | %kw_show | %kw_table
  | %kw_chart | %kw_compare | %kw_let | %kw_expect | %kw_set | %kw_save | %kw_load | %kw_help
  | %kw_exit | %kw_exits | %kw_trace | %kw_last | %kw_by | %kw_over | %kw_time | %kw_count | %kw_where
  | %kw_print | %kw_for | %kw_decode | %kw_irq | %kw_stat | %kw_sql) {% (d) => d[0][0] %}

# Without an architecture, `vm boot` boots the session's default (`set arch`).
vmBoot -> %kw_vm %kw_boot archName:? guestSrc:? asName:?
  {% (d) => ({ type: "vmBoot", arch: d[2], guest: d[3], name: d[4], pos: span(d) }) %}
guestSrc -> %kw_guest nameLike {% (d) => ({ type: "builtin", name: d[1] }) %}
  | %kw_guest %string {% (d) => ({ type: "builtin", name: wordOf(d[1]) }) %}
  | %kw_from %string {% (d) => ({ type: "file", path: d[1].value, pos: span(d[1]) }) %}
  | %kw_asm archName:? asmMode:? %asmbody {% (d) => ({ type: "asm", arch: d[1], mode: d[2], body: d[3].value, pos: span(d) }) %}
  | imageWord %string appendClause:? initrdClause:? memClause:? {% (d) => ({ type: "image", format: d[0], path: d[1].value, append: d[2], initrd: d[3], mem: d[4], pos: span(d[1]) }) %}
# `image "FILE"` (arm64: ELF, Linux Image or raw) / `multiboot "FILE"` or `bzimage "FILE"` (x86), then `append "ARGS"`
# (the command line) and `mem N` (RAM in MiB): plain words here, free as names elsewhere.
imageWord -> %word {% (d, _, reject) => (["image", "multiboot", "bzimage"].includes(d[0].value.toLowerCase()) ? d[0].value.toLowerCase() : reject) %}
appendClause -> %word %string {% (d, _, reject) => (d[0].value.toLowerCase() === "append" ? d[1].value : reject) %}
# `initrd "FILE"`: an initial ramdisk (QEMU's -initrd; on x86 a Multiboot module or a bzImage's ramdisk).
initrdClause -> %word %string {% (d, _, reject) => (d[0].value.toLowerCase() === "initrd" ? { path: d[1].value, pos: span(d[1]) } : reject) %}
# `mem N`: guest RAM in MiB (QEMU's -m).
memClause -> %word %number {% (d, _, reject) => (d[0].value.toLowerCase() === "mem" ? { value: Number((num(d[1]) as { value: bigint }).value), pos: span(d[1]) } : reject) %}
# `mode 16|32|64` (x86): `mode` is a plain word here, so it stays free as a name elsewhere.
asmMode -> %word %number {% (d, _, reject) => (d[0].value.toLowerCase() === "mode" ? num(d[1]) : reject) %}
asName -> %kw_as vmName {% (d) => d[1] %}

use -> %kw_use vmName {% (d) => ({ type: "use", name: d[1], pos: span(d) }) %}

trap -> %kw_trap trapKind trapArg:? {% (d) => ({ type: "trap", enable: true, kind: d[1], arg: d[2], pos: span(d) }) %}
  | %kw_untrap trapKind trapArg:? {% (d) => ({ type: "trap", enable: false, kind: d[1], arg: d[2], pos: span(d) }) %}
trapArg -> %number {% (d) => num(d[0]) %} | name {% id %}

step -> %kw_step {% (d) => ({ type: "step", count: null, until: null, pos: span(d) }) %}
  | %kw_step expr {% (d) => ({ type: "step", count: d[1], until: null, pos: span(d) }) %}
  | %kw_step %kw_until %kw_exit {% (d) => ({ type: "step", count: null, until: "exit", pos: span(d) }) %}
  | %kw_step %kw_until expr {% (d) => ({ type: "step", count: null, until: d[2], pos: span(d) }) %}

handle -> %kw_handle {% (d) => ({ type: "handle", pos: span(d) }) %}

# `vcpu N`: select the vCPU `show regs`, `show exit` and `step` address. `ipi CPU [sgi N | vector N]`: the
# VMM makes SGI N (default 0) pending for vCPU CPU. Plain words here, free as names elsewhere.
vcpu -> vcpuWord expr {% (d) => ({ type: "vcpu", cpu: d[1], pos: span(d) }) %}
ipi -> ipiWord expr {% (d) => ({ type: "ipi", cpu: d[1], sgi: null, pos: span(d) }) %}
  | ipiWord expr sgiWord expr {% (d) => ({ type: "ipi", cpu: d[1], sgi: d[3], pos: span(d) }) %}
vcpuWord -> %word {% (d, _, reject) => (d[0].value.toLowerCase() === "vcpu" ? d[0] : reject) %}
ipiWord -> %word {% (d, _, reject) => (d[0].value.toLowerCase() === "ipi" ? d[0] : reject) %}
# `sgi N` (arm64's SGI INTID) or `vector N` (x86's interrupt vector).
sgiWord -> %word {% (d, _, reject) => (["sgi", "vector"].includes(d[0].value.toLowerCase()) ? d[0] : reject) %}
# `irq N`: the VMM raises interrupt N (arm64: a PPI or SPI INTID; x86: a vector into the local APIC).
# `irq gsi N [high|low]` (x86): KVM_IRQ_LINE of GSI N through the PIC and the I/O APIC, pulsed
# unless a level is given. Plain words, free as names elsewhere.
irq -> %kw_irq expr {% (d) => ({ type: "irq", intid: d[1], pos: span(d) }) %}
  | %kw_irq gsiWord expr lineLevel:? {% (d) => ({ type: "irq", intid: d[2], gsi: true, level: d[3] ? { word: d[3].value, pos: span([d[3]]) } : null, pos: span(d) }) %}
gsiWord -> %word {% (d, _, reject) => (d[0].value.toLowerCase() === "gsi" ? d[0] : reject) %}
# `high` or `low`: any word here, so a wrong one gets the statement's own error (with its place).
lineLevel -> %word {% id %}

run -> %kw_run runUntil:? runLimit:? {% (d) => ({ type: "run", until: d[1], limit: d[2], pos: span(d) }) %}
runUntil -> %kw_until %kw_halt {% () => "halt" %} | %kw_until expr {% (d) => d[1] %}
runLimit -> %kw_limit expr {% (d) => d[1] %}

show -> %kw_show showWhat showArg:* {% (d) => ({ type: "show", what: d[1], args: d[2], pos: span(d) }) %}
  | %kw_show %kw_trace %kw_last atom {% (d) => ({ type: "show", what: wordOf(d[1]), args: [d[3]], pos: span(d) }) %}
showArg -> atom {% id %} | %kw_guest {% (d) => ({ type: "name", path: [d[0].value], pos: span(d) }) %}
  | %kw_exit {% (d) => ({ type: "name", path: [d[0].value], pos: span(d) }) %}
showWhat -> viewName {% id %} | %kw_exit {% (d) => wordOf(d[0]) %} | %kw_trace {% (d) => wordOf(d[0]) %} | %kw_exits {% (d) => wordOf(d[0]) %}

table -> %kw_table source byClause:? {% (d) => ({ type: "table", source: d[1], by: d[2], pos: span(d) }) %}
chart -> %kw_chart chartSubject chartShape chartFilter:*
    {% (d) => ({ type: "chart", ...d[1], ...d[2], compare: null, filters: d[3], pos: span(d) }) %}
  | %kw_chart %kw_sql %string
    {% (d) => ({ type: "chartSql", query: d[2].value, queryPos: span(d[2]), pos: span(d) }) %}
  | %kw_chart %kw_compare vmName vmName chartFilter:*
    {% (d) => ({ type: "chart", source: null, measure: null, by: null, overTime: false, compare: [d[2], d[3]], filters: d[4], pos: span(d) }) %}
# What is charted: exits (of the current VM, or NAME's) or their modelled cycles. A lone word is a
# VM or trace name, except `cycles`: `chart cycles by reason` (the current VM's cycles).
chartSubject -> %kw_exits {% () => ({ source: null, measure: null }) %}
  | vmName {% (d) => (d[0].text.toLowerCase() === "cycles" ? { source: null, measure: d[0] } : { source: d[0], measure: null }) %}
  | vmName %kw_exits {% (d) => ({ source: d[0], measure: null }) %}
  | vmName chartMeasure {% (d) => ({ source: d[0], measure: d[1] }) %}
chartMeasure -> %word {% (d) => wordOf(d[0]) %}
chartShape -> byClause {% (d) => ({ by: d[0], overTime: false }) %}
  | %kw_over %kw_time {% () => ({ by: null, overTime: true }) %}
chartFilter -> %kw_where expr {% (d) => ({ type: "where", cond: d[1] }) %}
  | chartOption %word {% (d) => ({ type: "without", option: d[0], what: wordOf(d[1]) }) %}
chartOption -> %word {% (d) => wordOf(d[0]) %}
source -> %kw_exits {% () => null %} | vmName {% id %}
byClause -> %kw_by fieldName {% (d) => d[1] %}

compare -> %kw_compare vmName vmName {% (d) => ({ type: "compare", left: d[1], right: d[2], pos: span(d) }) %}

let -> %kw_let varName "=" expr {% (d) => ({ type: "let", name: d[1], value: d[3], pos: span(d) }) %}

expect -> %kw_expect expr {% (d) => ({ type: "expect", cond: d[1], message: null, pos: span(d) }) %}
  | %kw_expect expr "," %string {% (d) => ({ type: "expect", cond: d[1], message: d[3].value, pos: span(d) }) %}

set -> %kw_set settingName setValue setFor:? {% (d) => ({ type: "set", name: d[1], value: d[2], vm: d[3], pos: span(d) }) %}
setFor -> %kw_for vmName {% (d) => d[1] %}
setValue -> %number {% (d) => num(d[0]) %} | %string {% (d) => str(d[0]) %} | name {% id %}

# `save trace ["FILE"]`: the current VM's trace; `save trace NAME "FILE"`: a VM's or a loaded trace's.
save -> %kw_save %kw_trace %string {% (d) => ({ type: "saveTrace", source: null, path: d[2].value, pos: span(d) }) %}
  | %kw_save %kw_trace vmName %string {% (d) => ({ type: "saveTrace", source: d[2], path: d[3].value, pos: span(d) }) %}

# `stat [NAME]`: perf kvm stat's summary of a VM or a loaded trace; `sql "select ..."`: DuckDB.
stat -> %kw_stat vmName:? {% (d) => ({ type: "stat", source: d[1], pos: span(d) }) %}
sql -> %kw_sql %string {% (d) => ({ type: "sql", query: d[1].value, queryPos: span(d[1]), pos: span(d) }) %}
load -> %kw_load %kw_trace %string asName:? {% (d) => ({ type: "loadTrace", path: d[2].value, name: d[3], pos: span(d) }) %}

help -> %kw_help {% (d) => ({ type: "help", topic: null, pos: span(d) }) %}
  | %kw_help nameLike {% (d) => ({ type: "help", topic: d[1], pos: span(d) }) %}
  | %kw_help %number {% (d) => ({ type: "help", topic: wordOf(d[1]), pos: span(d) }) %}

# `decode esr 0x92000045`, `decode qual cr 0x104`: a register, its layout's name where it has
# several, and the value (an atom: a number, a name, `exit.FIELD` or a parenthesised expression).
decode -> %kw_decode decodeWord:+ atom {% (d) => ({ type: "decode", words: d[1], value: d[2], pos: span(d) }) %}

# `print a, b`: the values as text on standard output; a bare expression is a value (the REPL
# echoes it, the kernel sends it as the cell's result).
print -> %kw_print {% (d) => ({ type: "print", items: [], pos: span(d) }) %}
  | %kw_print printItems {% (d) => ({ type: "print", items: d[1], pos: span(d) }) %}
printItems -> expr {% (d) => [d[0]] %} | printItems "," expr {% (d) => [...d[0], d[2]] %}
value -> expr {% (d) => ({ type: "value", expr: d[0], pos: d[0].pos }) %}

# ---- expressions, loosest first ----
expr -> or {% id %}
or -> or "||" and {% binary %} | and {% id %}
and -> and "&&" cmp {% binary %} | cmp {% id %}
cmp -> bor cmpOp bor {% (d) => binary([d[0], d[1][0], d[2]]) %} | bor {% id %}
cmpOp -> "==" | "!=" | "<" | "<=" | ">" | ">="
bor -> bor "|" bxor {% binary %} | bxor {% id %}
bxor -> bxor "^" band {% binary %} | band {% id %}
band -> band "&" shift {% binary %} | shift {% id %}
shift -> shift ("<<" | ">>") add {% (d) => binary([d[0], d[1][0], d[2]]) %} | add {% id %}
add -> add ("+" | "-") mul {% (d) => binary([d[0], d[1][0], d[2]]) %} | mul {% id %}
mul -> mul ("*" | "/" | "%") unary {% (d) => binary([d[0], d[1][0], d[2]]) %} | unary {% id %}
unary -> ("!" | "-" | "~") unary {% (d) => ({ type: "unary", op: d[0][0].text, operand: d[1], pos: span(d) }) %} | atom {% id %}

atom -> %number {% (d) => num(d[0]) %}
  | %string {% (d) => str(d[0]) %}
  | path {% (d) => ({ type: "name", path: d[0].map((t) => t.value), pos: span(d[0]) }) %}
  | %kw_exit "." fieldPath {% (d) => ({ type: "exitField", path: d[2].map((t) => t.value), pos: span(d) }) %}
  | %kw_exits "[" expr "]" "." fieldPath {% (d) => ({ type: "exitAt", index: d[2], path: d[5].map((t) => t.value), pos: span(d) }) %}
  | %kw_count "(" %kw_exits ")" {% (d) => ({ type: "count", where: null, source: null, pos: span(d) }) %}
  | %kw_count "(" %kw_exits %kw_where expr ")" {% (d) => ({ type: "count", where: d[4], source: null, pos: span(d) }) %}
  | %word "(" %kw_exits %kw_where expr ")" {% (d) => ({ type: "find", fn: wordOf(d[0]), where: d[4], source: null, pos: span(d) }) %}
  | %kw_count "(" vmName ")" {% (d) => ({ type: "count", where: null, source: d[2], pos: span(d) }) %}
  | %kw_count "(" vmName %kw_where expr ")" {% (d) => ({ type: "count", where: d[4], source: d[2], pos: span(d) }) %}
  | %word "(" vmName %kw_where expr ")" {% (d) => ({ type: "find", fn: wordOf(d[0]), where: d[4], source: d[2], pos: span(d) }) %}
  | "(" expr ")" {% (d) => ({ ...d[1], pos: span(d) }) %}
# `irq` is a statement and, as a name, the IRQ exit reason (`reason == IRQ`).
path -> %word {% (d) => [d[0]] %} | %kw_irq {% (d) => [{ ...d[0], value: d[0].text }] %} | path "." field {% (d) => [...d[0], d[2]] %}
fieldPath -> field {% (d) => [d[0]] %} | fieldPath "." field {% (d) => [...d[0], d[2]] %}
field -> %word {% id %} | anyKw {% id %}
