// Handler results whose words are made only when someone reads them: an exit handled inside the
// run loop (VmBase.takeInline) drops its result, so the hot exits (WRMSR, RDMSR) format no
// message per exit; `handle` and the REPL read the same text as before.

import type { HandleResult } from "../../core/machine.js";

/** A "resume" result whose message is `make()`, computed on the first read and kept. */
export function resumeLater(make: () => string): HandleResult {
  let text: string | undefined;
  return {
    action: "resume",
    get message(): string {
      if (text === undefined) text = make();
      return text;
    },
  };
}
