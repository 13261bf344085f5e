/**
 * Edit distance with adjacent transpositions (optimal string alignment):
 * "nmae" is one step from "name", as a typist would count it.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The candidate the user most likely meant: the closest within a small
 * distance (1 for short words, 2 from 4 letters, 3 from 9), else the only
 * candidate the word is the beginning of ("--password" → "--password-stdin").
 * Undefined when nothing is close: a wild guess misleads more than none.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const limit = word.length < 4 ? 1 : word.length < 9 ? 2 : 3;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance <= limit && (!best || distance < best.distance)) best = { candidate, distance };
  }
  if (best) return best.candidate;
  const extensions = word.length >= 3 ? candidates.filter((c) => c.startsWith(word)) : [];
  return extensions.length === 1 ? extensions[0] : undefined;
}

/** "; did you mean X?" or nothing, to end an error message. */
export function didYouMean(word: string, candidates: readonly string[], show: (candidate: string) => string = (c) => c): string {
  const guess = closest(word, candidates);
  return guess === undefined ? '' : `; did you mean ${show(guess)}?`;
}
