// What the machines know, as the language's words: the trap kinds `trap` takes (from each arch's
// trap table, ArchInfo.traps) and the registers `decode` reads (ArchInfo.decoders). `trap`,
// `decode`, completion and `help` all read these, so none keeps its own list.

import type { Arch, ArchInfo, TrapKind } from "../runtime/core/machine.js";
import type { RegisterDecoder } from "../runtime/core/decode.js";
import type { Session } from "./session.js";
// The trap tables themselves (plain data), for words of an arch the session's factory may not load.
import { X86_TRAPS } from "../runtime/x86/traps.js";
import { ARM64_TRAPS } from "../runtime/arm64/traps.js";

/** Every arch's trap table: the same arrays as ArchInfo.traps. */
export const TRAPS: Readonly<Record<Arch, readonly TrapKind[]>> = { x86_64: X86_TRAPS, arm64: ARM64_TRAPS };

/** The arch completion and help assume: the current VM's, else the session's default (x86_64). */
export function sessionArch(session: Session): Arch {
  return session.current?.arch ?? (session.settings as { arch?: Arch }).arch ?? "x86_64";
}

/** The words completion offers after `trap`: each kind's forms (`cr0`), else its name. */
export function trapWords(info: ArchInfo | undefined): string[] {
  return (info?.traps ?? []).flatMap((t) => [...(t.forms ?? [t.name])]);
}

/** The trap kind a word names (`msr`, or a form such as `cr0` with its argument), if any. */
export function resolveTrap(info: ArchInfo | undefined, word: string): { kind: TrapKind; arg?: string } | undefined {
  const w = word.toLowerCase();
  for (const t of info?.traps ?? []) {
    if (t.name === w) return { kind: t };
    if (t.forms?.includes(w)) return { kind: t, arg: w };
  }
  return undefined;
}

/** `help trap`'s list: one line per kind with its argument, forms and doc. */
export function trapHelp(info: ArchInfo): string[] {
  return info.traps.map((t) => `  ${t.forms ? t.forms.join(" ") : t.name}${t.arg ? `${t.forms ? ` (or ${t.name} ${t.arg})` : ` ${t.arg}`}` : ""}: ${t.doc}`);
}

/** Every decoder of every arch the session has, with its arch. */
export function decoders(session: Session): { arch: Arch; decoder: RegisterDecoder }[] {
  return Object.values(session.factory.archInfo).flatMap((i) => (i ? i.decoders.map((decoder) => ({ arch: i.arch, decoder })) : []));
}
