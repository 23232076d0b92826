// `decode REGISTER [KIND] VALUE`: any value (pasted from a bug report, a dump, or read from an exit)
// decoded field by field by the machine's own decoder of that register, as a table.

import type { Statement } from "../../grammar/ast.js";
import { suggestion } from "../../grammar/words.js";
import { LabError, nameError, typeError, valueError } from "../errors.js";
import { evaluate } from "../expr.js";
import type { Result } from "../results.js";
import type { Context, HandlerTable } from "../session.js";
import { decoders } from "../vocabulary.js";
import { scopeOf } from "./common.js";
import { viewTable } from "./data.js";

type S<T extends Statement["type"]> = Extract<Statement, { type: T }>;

/** "did you mean `x`? then the list", or the list. */
const hintOf = (mean: string | undefined, list: string) => (mean ? `${mean} ${list}` : list);

function decode(s: S<"decode">, ctx: Context): Result[] {
  const all = decoders(ctx.session);
  const names = all.map((d) => `${d.decoder.name}${d.decoder.kinds ? " KIND" : ""} (${d.arch})`);
  const [reg, kind, ...extra] = s.words;
  const found = all.find((d) => d.decoder.name === reg!.text.toLowerCase());
  if (!found) {
    throw nameError(`no decoder for \`${reg!.text}\``, reg!.pos, hintOf(suggestion(reg!.text, all.map((d) => d.decoder.name)), `registers: ${names.join(", ")}`));
  }
  const dec = found.decoder;
  const kinds = dec.kinds ?? [];
  if (extra.length) throw new LabError("UsageError", `usage: decode ${dec.name}${dec.kinds ? " KIND" : ""} VALUE`, extra[0]!.pos);
  let kindName: string | undefined;
  if (dec.kinds) {
    const kindList = kinds.map((k) => k.name).join(", ");
    if (!kind) {
      throw new LabError("UsageError", `\`decode ${dec.name}\` needs the layout: decode ${dec.name} KIND VALUE`, s.value.pos, `kinds: ${kindList}`);
    }
    const k = kinds.find((x) => x.name.toLowerCase() === kind.text.toLowerCase());
    if (!k) throw nameError(`\`${kind.text}\` is not a layout of \`${dec.name}\``, kind.pos, hintOf(suggestion(kind.text, kinds.map((x) => x.name)), `kinds: ${kindList}`));
    kindName = k.name;
  } else if (kind) {
    throw new LabError("UsageError", `usage: decode ${dec.name} VALUE (\`${dec.name}\` has one layout)`, kind.pos);
  }
  const v = evaluate(s.value, scopeOf(ctx));
  if (typeof v !== "bigint") throw typeError(`the value to decode must be a number, not ${typeof v === "string" ? "a string" : "a boolean"}`, s.value.pos);
  try {
    return [viewTable(dec.decode(v, kindName), s.pos.line)];
  } catch (e) {
    if (e instanceof RangeError) throw valueError(e.message, s.value.pos);
    throw e;
  }
}

export const DECODE_STATEMENTS: HandlerTable = { decode };
