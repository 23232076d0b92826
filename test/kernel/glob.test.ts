// History search patterns (kernel/glob.ts): IPython's glob semantics, matched without a
// backtracking regex, so no pattern makes the search slow.

import { describe, expect, test } from "vitest";
import { globMatch, searchHistory } from "../../kernel/glob.js";

describe("globMatch", () => {
  test.each([
    ["*", "", true], ["*", "anything", true], ["1?2*", "1x2", true], ["1?2*", "1x2 and more", true], ["1?2*", "12", false],
    ["vm boot*", "vm boot x86_64", true], ["*run", "vm boot; run", true], ["*run", "run until halt", false],
    ["a*b*c", "aXbYc", true], ["a*b*c", "acb", false], ["[x]", "[x]", true], ["a.c", "abc", false], ["*.*", "a.b", true],
  ] as const)("%j against %j: %s", (pattern, text, want) => {
    expect(globMatch(pattern, text)).toBe(want);
  });

  test("the pattern that made the regex backtrack for a minute is answered at once", () => {
    const t0 = performance.now();
    for (let i = 0; i < 100; i++) expect(globMatch("*a".repeat(10) + "*c", "a".repeat(42))).toBe(false);
    expect(globMatch("*a".repeat(1000) + "*c", "a".repeat(100_000))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  test("search: matches in order, unique keeps the first of each, n the last n", () => {
    const inputs = ["run", "vm boot", "run", "run until halt", "vm boot"];
    expect(searchHistory(inputs, "run*", false, 0)).toEqual([0, 2, 3]);
    expect(searchHistory(inputs, "run*", true, 0)).toEqual([0, 3]);
    expect(searchHistory(inputs, "*", true, 2)).toEqual([1, 3]);
  });
});
