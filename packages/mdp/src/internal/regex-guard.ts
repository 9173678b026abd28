/**
 * Compiles a regular expression that came from the network without letting it
 * stall the broker.
 *
 * JavaScript regexes backtrack, and patterns such as `(a+)+$` take time
 * exponential in the subject's length. `mmi.discovery` takes a pattern from
 * any client, so before compiling one we refuse the shapes that backtrack
 * catastrophically: a quantified group that contains a quantifier or an
 * alternation, and backreferences. Plain patterns people write
 * (`^pi1\.`, `\.devices$`, `(pi1|pi2)\.onewire\..*`) pass.
 *
 * @module
 * @internal
 */

/** Longest pattern accepted. */
export const MAX_PATTERN_LENGTH = 256;

/**
 * @param pattern - the pattern text
 * @returns the compiled regex, or the reason it is refused
 */
export function compileSafeRegex(pattern: string): { ok: true; regex: RegExp } | { ok: false; reason: string } {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return { ok: false, reason: `pattern is ${pattern.length} characters, more than ${MAX_PATTERN_LENGTH}` };
  }
  // Walk the pattern once, tracking for each open group whether it holds a
  // quantifier or an alternation, and check what follows each closing paren.
  const stack: { risky: boolean }[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next !== undefined && /[1-9k]/.test(next) && !inClass) {
        return { ok: false, reason: 'backreferences are not allowed' };
      }
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push({ risky: false });
    else if (c === '|') {
      const top = stack[stack.length - 1];
      if (top) top.risky = true;
    } else if (c === '*' || c === '+' || c === '?' || c === '{') {
      // `(?` opens a group kind, not a quantifier.
      if (c === '?' && pattern[i - 1] === '(') continue;
      const top = stack[stack.length - 1];
      if (top) top.risky = true;
    } else if (c === ')') {
      const group = stack.pop();
      const next = pattern[i + 1];
      const quantified = next === '*' || next === '+' || next === '{' || next === '?';
      if (group?.risky && quantified && next !== '?') {
        return { ok: false, reason: 'a repeated group may not contain a quantifier or an alternation (it could backtrack for ever)' };
      }
      const parent = stack[stack.length - 1];
      if (parent && (group?.risky || quantified)) parent.risky = true;
    }
  }
  try {
    return { ok: true, regex: new RegExp(pattern) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
