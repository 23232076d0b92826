// History search patterns (history_request with hist_access_type "search"): `*` any run of
// characters, `?` one character, everything else itself, matched against the whole input, as
// IPython's history search reads them. Matched without regular expressions: a translated regex
// backtracks exponentially on patterns like `*a*a*a*a*a*a*a*a*a*a*c` (a minute for 42 characters).

/**
 * Whether `text` matches the glob `pattern` entirely. Greedy with one saved position (the last
 * `*`): on a mismatch only the text after the last star is retried, never earlier stars, so the
 * work is at most |pattern| × |text| character comparisons and no input can make it explode.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1; // index in pattern just after the last `*`
  let resume = 0; // where in text that star's run currently ends
  while (t < text.length) {
    const c = pattern[p];
    if (c === "*") {
      star = ++p;
      resume = t;
    } else if (c !== undefined && (c === "?" || c === text[t])) {
      p++;
      t++;
    } else if (star >= 0) {
      p = star;
      t = ++resume;
    } else return false;
  }
  while (pattern[p] === "*") p++;
  return p === pattern.length;
}

/**
 * history_request "search": the indexes of `inputs` matching `pattern`, oldest first; with
 * `unique`, each input once (its first occurrence); with `n` > 0, only the last n of those.
 */
export function searchHistory(inputs: readonly string[], pattern: string, unique: boolean, n: number): number[] {
  let hits: number[] = [];
  for (let i = 0; i < inputs.length; i++) if (globMatch(pattern, inputs[i]!)) hits.push(i);
  if (unique) {
    const seen = new Set<string>();
    hits = hits.filter((i) => !seen.has(inputs[i]!) && (seen.add(inputs[i]!), true));
  }
  return n > 0 ? hits.slice(-n) : hits;
}
