// Handler results whose words are made only when someone reads them: an exit handled inside the
// run loop (VmBase.takeInline) drops its result, so the hot exits (WRMSR, RDMSR) format no
// message per exit; `handle` and the REPL read the same text as before. (A class: an object
// literal with a getter costs microseconds to create in V8, more than the formatting it saves.)

import type { HandleAction, HandleResult } from "../../core/machine.js";

class LaterResult implements HandleResult {
  readonly action: HandleAction = "resume";
  #text: string | undefined = undefined;
  readonly #make: () => string;

  constructor(make: () => string) {
    this.#make = make;
  }

  /** The words, made on the first read and kept. */
  get message(): string {
    if (this.#text === undefined) this.#text = this.#make();
    return this.#text;
  }

  toJSON(): { action: HandleAction; message: string } {
    return { action: this.action, message: this.message };
  }
}

/** A "resume" result whose message is `make()`, computed on the first read and kept. */
export function resumeLater(make: () => string): HandleResult {
  return new LaterResult(make);
}
