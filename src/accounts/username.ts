/*
 * Usernames are compared in one form only, computed by canonicalUsername: the
 * unique index (accounts.username_canonical), every lookup (login page,
 * password grant, admin API) and the lockout keys all use it, so two spellings
 * that find the same account are always one lockout bucket, and two spellings
 * that are one bucket always find the same account.
 *
 * The form is Unicode caseless matching of identifiers, NFKC_Casefold (UAX #31,
 * UTS #39; the PRECIS UsernameCaseMapped profile of RFC 8265 does width mapping
 * and case mapping the same way), built from what JavaScript has:
 *   - default-ignorable code points (zero-width joiners and spaces, soft
 *     hyphens, bidi controls, variation selectors) are removed: invisible, they
 *     must not tell two usernames apart;
 *   - NFKC folds compatibility forms: full-width letters, ligatures (ﬃ → ffi),
 *     the Kelvin sign (K → K), ǅ → Dž;
 *   - white space at either end is dropped (as people type it);
 *   - lower, upper, lower case: full case folding, which JavaScript lacks
 *     (toLowerCase alone leaves ß ≠ SS and ς ≠ σ; ẞ needs the first lowering);
 *   - NFKC again, as case mapping may leave a decomposed sequence.
 * It is idempotent (test/accounts/username.test.ts checks every assigned code point).
 *
 * The stored column is computed by this function, in JavaScript, not by
 * Postgres lower() (which follows the database's locale, and PGlite's differs):
 * if this function ever changes, a migration must recompute the column.
 */

const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;

export function canonicalUsername(username: string): string {
  const folded = username.replace(DEFAULT_IGNORABLE, '').normalize('NFKC').trim();
  return folded.toLowerCase().toUpperCase().toLowerCase().normalize('NFKC');
}

/*
 * New usernames (repository create: the admin API, its import, and anything
 * else that creates accounts) follow an identifier profile after UTS #39
 * "Highly Restrictive", so that a username cannot pass for another one:
 *   - letters, combining marks and digits, and . _ @ -;
 *   - no control, format (bidi, zero-width), private-use, unassigned or
 *     default-ignorable code point, no white space;
 *   - already in NFKC (no full-width forms, ligatures or other compatibility
 *     characters: what is stored is what it looks like);
 *   - from one script, among the scripts UAX #31 recommends for identifiers,
 *     or Latin with the scripts of Japanese, Chinese or Korean.
 * The admin API narrows this further to ASCII letters, digits and . _ @ -
 * (src/admin/schemas/common.ts).
 */

const RECOMMENDED_SCRIPTS = [
  'Arabic', 'Armenian', 'Bengali', 'Bopomofo', 'Cyrillic', 'Devanagari', 'Ethiopic', 'Georgian', 'Greek',
  'Gujarati', 'Gurmukhi', 'Han', 'Hangul', 'Hebrew', 'Hiragana', 'Kannada', 'Katakana', 'Khmer', 'Lao', 'Latin',
  'Malayalam', 'Myanmar', 'Oriya', 'Sinhala', 'Tamil', 'Telugu', 'Thaana', 'Thai', 'Tibetan',
] as const;
type Script = (typeof RECOMMENDED_SCRIPTS)[number];

const SCRIPT_MATCHERS = RECOMMENDED_SCRIPTS.map((script) => [script, new RegExp(`^\\p{scx=${script}}$`, 'u')] as const);
const COMMON_OR_INHERITED = /^[\p{sc=Zyyy}\p{sc=Zinh}]$/u;

/** Script mixes that are one writing system (UTS #39 Highly Restrictive). */
const ALLOWED_MIXES: ReadonlyArray<ReadonlySet<Script>> = [
  new Set(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set(['Latin', 'Han', 'Bopomofo']),
  new Set(['Latin', 'Han', 'Hangul']),
];

const ALLOWED_CHARACTERS = /^[\p{L}\p{M}\p{Nd}._@-]+$/u;
const INVISIBLE = /[\p{C}\p{Z}\p{White_Space}\p{Default_Ignorable_Code_Point}]/u;

/** The recommended scripts a character belongs to; [] for Common and Inherited ones; undefined for any other script. */
function scriptsOf(char: string): Script[] | undefined {
  const scripts = SCRIPT_MATCHERS.filter(([, matcher]) => matcher.test(char)).map(([script]) => script);
  if (scripts.length) return scripts;
  return COMMON_OR_INHERITED.test(char) ? [] : undefined;
}

function scriptProblem(username: string): string | undefined {
  const perCharacter: Script[][] = [];
  for (const char of username) {
    const scripts = scriptsOf(char);
    if (!scripts) return 'must use a script recommended for identifiers (Unicode UAX #31)';
    if (scripts.length) perCharacter.push(scripts);
  }
  const shared = RECOMMENDED_SCRIPTS.filter((script) => perCharacter.every((scripts) => scripts.includes(script)));
  if (shared.length) return undefined;
  const inOneMix = ALLOWED_MIXES.some((mix) => perCharacter.every((scripts) => scripts.some((s) => mix.has(s))));
  return inOneMix ? undefined : 'must not mix scripts (such as Latin and Cyrillic letters)';
}

/** Why a new username is refused, as a message about the field; undefined when it is acceptable. */
export function usernameProblem(username: string): string | undefined {
  if (INVISIBLE.test(username)) return 'must not contain white space, control, format (bidi, zero-width) or other invisible characters';
  if (!ALLOWED_CHARACTERS.test(username)) return 'must hold only letters, digits and . _ @ -';
  if (username.normalize('NFKC') !== username) return 'must be in Unicode NFKC form (no full-width, ligature or other compatibility characters, no decomposed accents)';
  if (!canonicalUsername(username)) return 'must not be empty';
  return scriptProblem(username);
}

/*
 * Look-alikes, after UTS #39 confusables.txt but far from all of it: ASCII
 * digits that pass for letters, capital I for l, and the Cyrillic and Greek
 * letters that look like Latin ones (a single-script username of such letters
 * can pass for a Latin one: "раураl" is refused as mixed, "сосо" is all
 * Cyrillic). Applied before case folding, since usernames are shown as they
 * were written: "biII" (capital i) looks like "bill".
 */
const LOOKALIKES: ReadonlyMap<string, string> = new Map(Object.entries({
  0: 'o', 1: 'l', I: 'l',
  // Cyrillic
  А: 'A', а: 'a', В: 'B', С: 'C', с: 'c', ԁ: 'd', Е: 'E', е: 'e', Һ: 'h', һ: 'h', Н: 'H', І: 'l', і: 'i', Ӏ: 'l', ӏ: 'l',
  Ј: 'J', ј: 'j', К: 'K', М: 'M', О: 'O', о: 'o', Р: 'P', р: 'p', ԛ: 'q', Ѕ: 'S', ѕ: 's', Т: 'T', Х: 'X', х: 'x',
  У: 'Y', у: 'y', Ү: 'Y', Ԝ: 'W', ԝ: 'w',
  // Greek
  Α: 'A', α: 'a', Β: 'B', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'l', ι: 'i', Κ: 'K', Μ: 'M', Ν: 'N', ν: 'v', Ο: 'O', ο: 'o',
  Ρ: 'P', ρ: 'p', Τ: 'T', Υ: 'Y', υ: 'u', Χ: 'X', χ: 'x', Ϲ: 'C', ϲ: 'c', ϳ: 'j', γ: 'y',
}));

/**
 * A key under which usernames that look alike meet: two usernames with the
 * same skeleton are confusable. Stored in accounts.username_skeleton.
 */
export function usernameSkeleton(username: string): string {
  const visible = username.replace(DEFAULT_IGNORABLE, '').normalize('NFKC');
  const latin = Array.from(visible, (char) => LOOKALIKES.get(char) ?? char).join('');
  return canonicalUsername(latin).replaceAll('rn', 'm').replaceAll('vv', 'w');
}
