import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { canonicalUsername, usernameProblem, usernameSkeleton } from '../../src/accounts/username.ts';

/** Every assigned code point, private use excepted (the others have no case and no decomposition). */
function* everyAssignedCodePoint(): Generator<string> {
  const unassignedOrPrivate = /[\p{Cn}\p{Co}\p{Cs}]/u;
  for (let cp = 0; cp < 0x110000; cp++) {
    const char = String.fromCodePoint(cp);
    if (!unassignedOrPrivate.test(char)) yield char;
  }
}

describe('canonicalUsername: one form for every spelling of a username', () => {
  test.each([
    ['ALICE', 'alice'],
    ['  Alice ', 'alice'],
    ['ǅ', 'ǆ'], // title case, lower case: both NFKC to dž
    ['ǄEMAL', 'ǆemal'],
    ['ﬃ', 'ffi'], // ligature
    ['\u212Aim', 'kim'], // Kelvin sign
    ['ｋｉｍ', 'kim'], // full-width
    ['straße', 'STRASSE'], // ß is SS in upper case
    ['STRAẞE', 'strasse'], // capital sharp s
    ['ΟΔΟΣ', 'οδος'], // final sigma
    ['al\u200Bice', 'alice'], // zero-width space
    ['al\u200Dice', 'alice'], // zero-width joiner
    ['\u202Ealice', 'alice'], // bidi override
    ['al\u00ADice', 'alice'], // soft hyphen
    ['jo\u0301zef', 'józef'], // decomposed accent
  ])('%j and %j are one username', (a, b) => {
    expect(canonicalUsername(a)).toBe(canonicalUsername(b));
  });

  test.each([
    ['alice', 'alicf'],
    ['kİm', 'kim'], // dotted capital I is i + combining dot, not i
    ['józef', 'jozef'],
    ['сосо', 'coco'], // Cyrillic is not Latin: the look-alike check is another matter
  ])('%j and %j are different usernames', (a, b) => {
    expect(canonicalUsername(a)).not.toBe(canonicalUsername(b));
  });

  test('ASCII usernames keep their lower-case form (so lockout keys of existing accounts do not move)', () => {
    expect(canonicalUsername('Carol.Smith_2@example-1')).toBe('carol.smith_2@example-1');
  });

  test('is idempotent, and blind to case and normalization form, for every assigned code point', () => {
    const differing: string[] = [];
    let checked = 0;
    for (const char of everyAssignedCodePoint()) {
      const name = `a${char}b`;
      const canonical = canonicalUsername(name);
      const variants = [canonical, name.toUpperCase(), name.toLowerCase(), name.normalize('NFD'), name.normalize('NFKD')];
      if (variants.some((variant) => canonicalUsername(variant) !== canonical)) differing.push(char);
      checked++;
    }
    expect(differing).toEqual([]);
    expect(checked).toBeGreaterThan(150_000);
  });

  test('property: idempotent and case-blind for any string', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (name) => {
      const canonical = canonicalUsername(name);
      return canonicalUsername(canonical) === canonical
        && canonicalUsername(name.toUpperCase()) === canonical
        && canonicalUsername(name.toLowerCase()) === canonical;
    }), { numRuns: 2000 });
  });
});

describe('usernameProblem: what a new username may hold', () => {
  test.each(['alice', 'Carol.Smith_2@example-1', 'józef', 'mañana', 'сергей', 'ελένη', '東京tokyo', 'ひらがなカタカナ漢字', '한국어abc', 'مريم'])(
    '%j is accepted', (name) => {
      expect(usernameProblem(name)).toBeUndefined();
    },
  );

  test.each([
    ['al\u200Dice', /invisible/], // zero-width joiner
    ['al\u200Bice', /invisible/], // zero-width space
    ['\u202Eecila', /bidi/], // right-to-left override
    ['alice\u2066', /bidi/], // isolate
    ['al\u00ADice', /invisible/], // soft hyphen
    ['alice\uFE0F', /invisible/], // variation selector
    ['a\u0007b', /control/],
    ['a b', /white space/],
    ['a\u00A0b', /white space/],
    ['alice\uE000', /invisible/], // private use
    ['', /only letters/],
    ['alice!', /only letters/],
    ['ｋｉｍ', /NFKC/], // full-width
    ['\u212Aim', /NFKC/], // Kelvin sign
    ['ﬁona', /NFKC/], // ligature
    ['jo\u0301zef', /NFKC/], // decomposed accent
    ['𝐚𝐥𝐢𝐜𝐞', /NFKC/], // mathematical bold
    ['pаypal', /mix scripts/], // Cyrillic а among Latin letters
    ['αlpha', /mix scripts/], // Greek α among Latin letters
    ['ᚠᚢᚦ', /script recommended/], // Runic
  ])('%j is refused: %s', (name, reason) => {
    expect(usernameProblem(name)).toMatch(reason);
  });
});

describe('usernameSkeleton: look-alike usernames meet', () => {
  test.each([
    ['bill', 'biII'], // capital i for l
    ['paypal', 'paypa1'],
    ['bob0', 'bobo'],
    ['admin', 'adrnin'],
    ['coco', 'сосо'], // all Cyrillic
    ['pax', 'рах'],
    ['ABE', 'ΑΒΕ'], // all Greek
    ['wendy', 'vvendy'],
  ])('%j and %j have the same skeleton', (a, b) => {
    expect(usernameSkeleton(a)).toBe(usernameSkeleton(b));
  });

  test.each([['alice', 'alicia'], ['user1', 'user2'], ['bob', 'rob']])('%j and %j do not', (a, b) => {
    expect(usernameSkeleton(a)).not.toBe(usernameSkeleton(b));
  });

  test('the skeleton is as blind to spelling as the canonical form', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (name) =>
      usernameSkeleton(name.normalize('NFKD')) === usernameSkeleton(name)
      && usernameSkeleton(name.toLowerCase()) === usernameSkeleton(name.toLowerCase().normalize('NFD'))), { numRuns: 2000 });
  });
});
