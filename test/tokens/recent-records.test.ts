import { describe, expect, test } from '@jest/globals';
import { createRecentRecords, type RecentRow } from '../../src/tokens/recent-records.ts';

const row = (key: string, model = 'AccessToken', extra: Partial<RecentRow> = {}): RecentRow => ({
  model, key, payload: '{}', grant_id: null, consumed_at: null, expires_at: new Date(Date.now() + 60_000), ...extra,
});

describe('records a single process wrote', () => {
  test('a known key answers for its model, and answers "none" for the other models', () => {
    const recent = createRecentRecords();
    recent.remember(row('k1', 'ClientCredentials'));
    expect(recent.lookup('ClientCredentials', 'k1')).toMatchObject({ known: true, row: { key: 'k1' } });
    expect(recent.lookup('AccessToken', 'k1')).toEqual({ known: true, row: undefined });
    expect(recent.lookup('AccessToken', 'k2')).toEqual({ known: false });
  });

  test('expired rows answer "none" and are dropped; sweep drops them all', () => {
    const recent = createRecentRecords();
    recent.remember(row('old', 'AccessToken', { expires_at: new Date(Date.now() - 1) }));
    recent.remember(row('older', 'AccessToken', { expires_at: new Date(Date.now() - 1) }));
    expect(recent.lookup('AccessToken', 'old')).toEqual({ known: true, row: undefined });
    expect(recent.size).toBe(1);
    recent.sweep();
    expect(recent.size).toBe(0);
  });

  test("consume, deletes and a grant's revocation follow the writes; the grant's own record stays", () => {
    const recent = createRecentRecords();
    recent.remember(row('rt', 'RefreshToken', { grant_id: 'g' }));
    recent.remember(row('at', 'AccessToken', { grant_id: 'g' }));
    recent.remember(row('grant', 'Grant', { grant_id: 'g' }));
    recent.consumed('rt', 123);
    expect(recent.lookup('RefreshToken', 'rt')).toMatchObject({ known: true, row: { consumed_at: 123 } });
    recent.deletedOfGrant('g', new Set(['RefreshToken', 'AccessToken']));
    expect(recent.lookup('RefreshToken', 'rt')).toEqual({ known: true, row: undefined });
    expect(recent.lookup('AccessToken', 'at')).toEqual({ known: true, row: undefined });
    expect(recent.lookup('Grant', 'grant')).toMatchObject({ known: true, row: { model: 'Grant' } });
    recent.deleted('Grant', 'grant');
    expect(recent.lookup('Grant', 'grant')).toEqual({ known: true, row: undefined });
    recent.remember(row('grant', 'Grant'));
    expect(recent.lookup('Grant', 'grant')).toMatchObject({ known: true, row: { model: 'Grant' } });
  });

  test('bounded: past maxEntries the oldest is no longer known (it is read from SQL again)', () => {
    const recent = createRecentRecords({ maxEntries: 2 });
    recent.remember(row('a'));
    recent.remember(row('b'));
    recent.remember(row('c'));
    expect(recent.lookup('AccessToken', 'a')).toEqual({ known: false });
    expect(recent.size).toBe(2);
  });
});
