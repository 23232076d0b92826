// Lines of a file read in fixed-size chunks (synchronously: the lab's statements are synchronous),
// so a trace of any size is read in bounded memory. Lines end at "\n"; a trailing "\r" is dropped.

import { closeSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";

/** Bytes read at a time. */
const READ_BYTES = 1 << 20;

/**
 * Calls `each(line, lineNumber)` for every line of the file at `path` (line numbers from 1),
 * reading it 1 MiB at a time as UTF-8. Throws the file system's error (ENOENT, EISDIR, ...) as is.
 */
export function forEachLine(path: string, each: (line: string, lineNo: number) => void): void {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(READ_BYTES);
    const dec = new StringDecoder("utf8");
    let rest = "";
    let lineNo = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, READ_BYTES, null);
      const text = n > 0 ? rest + dec.write(buf.subarray(0, n)) : rest + dec.end();
      let start = 0;
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        each(text.slice(start, end), ++lineNo);
        start = nl + 1;
      }
      rest = text.slice(start);
      if (n <= 0) break;
    }
    if (rest !== "") each(rest.endsWith("\r") ? rest.slice(0, -1) : rest, ++lineNo);
  } finally {
    closeSync(fd);
  }
}

/** forEachLine over a string (tests, standard input). */
export function forEachLineOf(text: string, each: (line: string, lineNo: number) => void): void {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((l, i) => each(l.endsWith("\r") ? l.slice(0, -1) : l, i + 1));
}
