/*
 * The contract every TokenState back end (Redis, SQL) must meet, as jest tests.
 * Call adapterContract(...) inside a describe. It is deliberately back-end
 * neutral: only the TokenState interface is used, except for the optional
 * dumpRaw, which the back end's test provides to prove that no raw token id or
 * user code is at rest.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { errors } from 'oidc-provider';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { TokenState } from '../../src/tokens/types.ts';

export const MODELS = [
  'Session', 'Grant', 'Interaction', 'AuthorizationCode', 'AccessToken', 'RefreshToken',
  'ClientCredentials', 'DeviceCode', 'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest', 'ReplayDetection', 'RegistrationAccessToken',
  'InitialAccessToken', 'PreAuthorizedCode',
];
export const GRANTABLE = [
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode',
  'BackchannelAuthenticationRequest', 'PreAuthorizedCode',
];
const CONSUMABLE = [
  'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
  'PushedAuthorizationRequest', 'PreAuthorizedCode',
];

const epoch = () => Math.floor(Date.now() / 1000);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A token-like id: as random and as long as oidc-provider's opaque values. */
const randomId = () => randomBytes(32).toString('base64url');

/**
 * A payload shaped like oidc-provider's: jti equal to the id, nested objects,
 * empty arrays and objects (which naive JSON handling, e.g. Lua cjson, mangles).
 */
function payloadFor(model: string, id: string, fields: Record<string, unknown> = {}): AdapterPayload {
  const iat = epoch();
  return {
    iat,
    exp: iat + 60,
    jti: id,
    kind: model,
    clientId: `client-${randomUUID()}`,
    scope: 'openid email',
    amr: [],
    claims: { id_token: { email: null } },
    extra: { nested: { list: [1, 'two', { three: true }], empty: [], none: {} } },
    ...fields,
  } as AdapterPayload;
}

export function adapterContract(
  makeState: () => Promise<TokenState>,
  cleanup: () => Promise<void>,
  /** Every key and value of the store, concatenated (for the at-rest check). */
  dumpRaw?: () => Promise<string>,
): void {
  let state: TokenState;
  const adapter = (model: string): Adapter => state.adapterFactory(model);

  // Every raw bearer value written by any test, checked against the dump last.
  const secrets = new Set<string>();
  const secret = (value = randomId()) => { secrets.add(value); return value; };

  async function put(model: string, fields: Record<string, unknown> = {}, expiresIn = 60) {
    const id = model === 'Grant' ? `grant-${randomUUID()}` : secret();
    const payload = payloadFor(model, id, fields);
    await adapter(model).upsert(id, payload, expiresIn);
    return { id, payload };
  }

  beforeAll(async () => { state = await makeState(); });
  afterAll(async () => { await cleanup(); });

  test.each(MODELS)('%s: upsert then find returns the payload with jti restored', async (model) => {
    const { id, payload } = await put(model, model === 'Session' ? { uid: randomUUID() } : {});
    expect(await adapter(model).find(id)).toEqual({ ...payload, jti: id });
  });

  test('find of an unknown id returns undefined', async () => {
    for (const model of MODELS) {
      expect(await adapter(model).find(randomId())).toBeUndefined();
    }
  });

  test('upsert over an existing record replaces it, including its consumed mark', async () => {
    const rt = adapter('RefreshToken');
    const { id, payload } = await put('RefreshToken', { rotations: 1, consumed: epoch() });
    const { consumed: _consumed, rotations: _rotations, ...rest } = payload;
    const replacement = { ...rest, scope: 'openid' };
    await rt.upsert(id, replacement, 60);
    expect(await rt.find(id)).toEqual({ ...replacement, jti: id });
    await rt.consume(id); // no longer consumed, so this succeeds
  });

  test('destroy removes the record; destroying an unknown id is harmless', async () => {
    for (const model of ['AccessToken', 'Session', 'Grant', 'Interaction']) {
      const { id } = await put(model, model === 'Session' ? { uid: randomUUID() } : {});
      await adapter(model).destroy(id);
      expect(await adapter(model).find(id)).toBeUndefined();
      await adapter(model).destroy(randomId());
    }
  });

  test('findByUid finds a session, follows a regenerated session id, forgets a destroyed one', async () => {
    const sessions = adapter('Session');
    const uid = randomUUID();
    const first = await put('Session', { uid, accountId: 'alice' });
    expect(await sessions.findByUid(uid)).toMatchObject({ uid, accountId: 'alice' });
    expect(await sessions.findByUid(randomUUID())).toBeUndefined();

    // oidc-provider regenerates a session id: destroy(old) then upsert(new, same uid).
    await sessions.destroy(first.id);
    const second = await put('Session', { uid, accountId: 'alice', loginTs: epoch() });
    expect(await sessions.findByUid(uid)).toMatchObject({ uid, loginTs: second.payload.loginTs });

    await sessions.destroy(second.id);
    expect(await sessions.findByUid(uid)).toBeUndefined();
  });

  test('findByUserCode returns the device code with its userCode, and its jti saves back (device flow)', async () => {
    const devices = adapter('DeviceCode');
    const userCode = secret(randomBytes(6).toString('hex').toUpperCase());
    const { id, payload } = await put('DeviceCode', { userCode, params: { scope: 'openid' } });

    const found = await devices.findByUserCode(userCode);
    // DeviceCode.findByUserCode compares payload.userCode with what the user typed.
    expect(found).toMatchObject({ clientId: payload.clientId, userCode, params: { scope: 'openid' } });
    expect(await devices.findByUserCode(randomId())).toBeUndefined();

    // The verification page saves the code it found (inFlight), and the Interaction
    // keeps found.jti to load and save it again on resume; the device polls with
    // the real device code and must see all of it.
    expect(typeof found?.jti).toBe('string');
    const handle = found!.jti!;
    await devices.upsert(handle, { ...found!, inFlight: true }, 60);
    const resumed = await devices.find(handle);
    expect(resumed).toMatchObject({ inFlight: true, jti: handle });
    await devices.upsert(handle, { ...resumed!, accountId: 'alice', grantId: 'g-device' }, 60);
    expect(await devices.find(id)).toMatchObject({ inFlight: true, accountId: 'alice', jti: id });
    await devices.consume(id);
    expect((await devices.find(id))?.consumed).toEqual(expect.any(Number));

    await devices.destroy(id);
    expect(await devices.findByUserCode(userCode)).toBeUndefined();
  });

  test.each(CONSUMABLE)('%s: consume marks the record consumed; a second consume fails with InvalidGrant', async (model) => {
    const { id, payload } = await put(model, { grantId: `g-${randomUUID()}` });
    const before = epoch();
    await adapter(model).consume(id);
    const consumed = await adapter(model).find(id);
    expect(consumed).toEqual({ ...payload, jti: id, consumed: expect.any(Number) });
    expect(consumed!.consumed).toBeGreaterThanOrEqual(before);
    expect(consumed!.consumed).toBeLessThanOrEqual(epoch());
    await expect(adapter(model).consume(id)).rejects.toBeInstanceOf(errors.InvalidGrant);
  });

  test('consume of an unknown id fails with InvalidGrant', async () => {
    await expect(adapter('AuthorizationCode').consume(randomId())).rejects.toBeInstanceOf(errors.InvalidGrant);
  });

  test.each(CONSUMABLE)('%s: of 20 concurrent consume() calls exactly one succeeds', async (model) => {
    const { id } = await put(model);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => adapter(model).consume(id)));
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(rejected).toHaveLength(19);
    for (const r of rejected) expect(r.reason).toBeInstanceOf(errors.InvalidGrant);
  });

  test('revokeByGrantId removes the grant\'s tokens of every model and leaves other grants alone', async () => {
    const grantA = `grant-${randomUUID()}`;
    const grantB = `grant-${randomUUID()}`;
    const ofA = await Promise.all(GRANTABLE.map(async (model) => ({ model, ...(await put(model, { grantId: grantA })) })));
    const ofB = await Promise.all(['AccessToken', 'RefreshToken'].map(async (model) => ({ model, ...(await put(model, { grantId: grantB })) })));

    // oidc-provider calls it on each model's adapter; one call must do for all models.
    await adapter('RefreshToken').revokeByGrantId(grantA);
    for (const { model, id } of ofA) expect(await adapter(model).find(id)).toBeUndefined();
    for (const { model, id } of ofB) expect(await adapter(model).find(id)).toBeDefined();

    await adapter('AccessToken').revokeByGrantId(`grant-${randomUUID()}`); // unknown grant: no-op

    // The grant is tracked again for tokens issued after a revocation.
    const late = await put('AccessToken', { grantId: grantA });
    await adapter('AuthorizationCode').revokeByGrantId(grantA);
    expect(await adapter('AccessToken').find(late.id)).toBeUndefined();
  });

  test('revokeByGrantId (of any model, called concurrently as the provider does) denylists the grant\'s JWTs until their exp', async () => {
    const grantId = `grant-${randomUUID()}`;
    const other = `grant-${randomUUID()}`;
    const [a, b, foreign] = [randomUUID(), randomUUID(), randomUUID()];
    await state.issuedJwts.record(grantId, a, epoch() + 60);
    await state.issuedJwts.record(grantId, b, epoch() + 120);
    await state.issuedJwts.record(other, foreign, epoch() + 60);

    await Promise.all(GRANTABLE.map((model) => adapter(model).revokeByGrantId(grantId)));
    expect(await state.denylist.has(a)).toBe(true);
    expect(await state.denylist.has(b)).toBe(true);
    expect(await state.denylist.has(foreign)).toBe(false);

    // A JWT issued under the grant afterwards is caught by the next revocation.
    const late = randomUUID();
    await state.issuedJwts.record(grantId, late, epoch() + 60);
    await adapter('RefreshToken').revokeByGrantId(grantId);
    expect(await state.denylist.has(late)).toBe(true);
  });

  test('denylist: add / has; an already-expired jti is not added', async () => {
    const jti = randomUUID();
    expect(await state.denylist.has(jti)).toBe(false);
    await state.denylist.add(jti, epoch() + 60);
    expect(await state.denylist.has(jti)).toBe(true);
    expect(await state.denylist.has(randomUUID())).toBe(false);

    const dead = randomUUID();
    await state.denylist.add(dead, epoch() - 10);
    expect(await state.denylist.has(dead)).toBe(false);
  });

  test('issuedJwts: record / list per grant; expired entries are left out', async () => {
    const grantId = `grant-${randomUUID()}`;
    const exp = epoch() + 60;
    await state.issuedJwts.record(grantId, 'jti-1', exp);
    await state.issuedJwts.record(grantId, 'jti-2', exp + 30);
    await state.issuedJwts.record(grantId, 'jti-old', epoch() - 10);
    await state.issuedJwts.record(`grant-${randomUUID()}`, 'jti-other', exp);

    const listed = await state.issuedJwts.list(grantId);
    expect([...listed].sort((a, b) => a.jti.localeCompare(b.jti))).toEqual([
      { jti: 'jti-1', expiresAt: exp },
      { jti: 'jti-2', expiresAt: exp + 30 },
    ]);
    expect(await state.issuedJwts.list(`grant-${randomUUID()}`)).toEqual([]);
  });

  test('grants index: ofAccount / ofClient list grant ids; destroy removes them', async () => {
    const accountId = `account-${randomUUID()}`;
    const clientId = `client-${randomUUID()}`;
    const g1 = await put('Grant', { accountId, clientId });
    const g2 = await put('Grant', { accountId, clientId: `client-${randomUUID()}` });
    const g3 = await put('Grant', { accountId: `account-${randomUUID()}`, clientId });

    expect([...await state.grants.ofAccount(accountId)].sort()).toEqual([g1.id, g2.id].sort());
    expect([...await state.grants.ofClient(clientId)].sort()).toEqual([g1.id, g3.id].sort());
    expect(await state.grants.ofAccount(`account-${randomUUID()}`)).toEqual([]);

    // Re-saving a grant (oidc-provider does on every consent) does not duplicate it.
    await adapter('Grant').upsert(g1.id, g1.payload, 120);
    expect(await state.grants.ofAccount(accountId)).toHaveLength(2);

    await adapter('Grant').destroy(g1.id);
    expect(await state.grants.ofAccount(accountId)).toEqual([g2.id]);
    expect(await state.grants.ofClient(clientId)).toEqual([g3.id]);
  });

  test('sessions index: ofAccount lists uids (never storage ids), survives a regenerated id, take() ends one; metadata keeps its first use', async () => {
    const sessions = adapter('Session');
    const accountId = `account-${randomUUID()}`;
    const [uid1, uid2] = [randomUUID(), randomUUID()];
    const first = await put('Session', { uid: uid1, accountId });
    await put('Session', { uid: uid2, accountId });
    await put('Session', { uid: randomUUID(), accountId: `account-${randomUUID()}` });
    // a session before sign-in has no account and is listed nowhere
    await put('Session', { uid: randomUUID() });
    expect([...await state.sessions.ofAccount(accountId)].sort()).toEqual([uid1, uid2].sort());

    // regenerated (destroy old, upsert new with the same uid): still listed once
    await sessions.destroy(first.id);
    await put('Session', { uid: uid1, accountId });
    expect([...await state.sessions.ofAccount(accountId)].sort()).toEqual([uid1, uid2].sort());

    const expiresAt = Date.now() + 60_000;
    await state.sessions.noteActivity(uid1, { userAgent: 'First Browser', ip: '192.0.2.1', at: 1_000 }, expiresAt);
    await state.sessions.noteActivity(uid1, { userAgent: 'Other Browser', ip: '192.0.2.2', at: 2_000 }, expiresAt);
    expect(await state.sessions.metadataOf(uid1)).toEqual({ userAgent: 'First Browser', ip: '192.0.2.1', createdAt: 1_000, lastActiveAt: 2_000 });
    await state.sessions.noteActivity(uid2, { userAgent: null, ip: null, at: 3_000 }, expiresAt);
    expect(await state.sessions.metadataOf(uid2)).toEqual({ userAgent: null, ip: null, createdAt: 3_000, lastActiveAt: 3_000 });
    expect(await state.sessions.metadataOf(randomUUID())).toBeUndefined();

    const taken = await state.sessions.take(uid1);
    expect(taken).toMatchObject({ uid: uid1, accountId });
    expect(await sessions.findByUid(uid1)).toBeUndefined();
    expect(await state.sessions.metadataOf(uid1)).toBeUndefined();
    expect(await state.sessions.ofAccount(accountId)).toEqual([uid2]);
    expect(await state.sessions.take(uid1)).toBeUndefined();
    expect(await state.sessions.take(randomUUID())).toBeUndefined();
  });

  test('grant use: a token issued under a grant records its last use, kept across the grant\'s rewrites, gone with it', async () => {
    const grant = await put('Grant', { accountId: `account-${randomUUID()}` });
    const other = await put('Grant', { accountId: `account-${randomUUID()}` });
    expect(await state.grantUse.lastUsed([grant.id, other.id])).toEqual(new Map());

    const before = Math.floor(Date.now() / 1000);
    await put('RefreshToken', { grantId: grant.id });
    const used = (await state.grantUse.lastUsed([grant.id, other.id]));
    expect([...used.keys()]).toEqual([grant.id]);
    expect(used.get(grant.id)).toBeGreaterThanOrEqual(before);
    expect(used.get(grant.id)).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    // the payload is what the provider stored, nothing added
    expect(await adapter('Grant').find(grant.id)).toEqual({ ...grant.payload, jti: grant.id });

    // oidc-provider saves a grant again on every consent: its last use stays
    await adapter('Grant').upsert(grant.id, grant.payload, 120);
    expect((await state.grantUse.lastUsed([grant.id])).get(grant.id)).toBe(used.get(grant.id));

    // a touch of a grant that does not exist records nothing; a destroyed grant has no last use
    const ghost = `grant-${randomUUID()}`;
    await state.grantUse.touch(ghost);
    await adapter('Grant').destroy(grant.id);
    expect(await state.grantUse.lastUsed([grant.id, ghost])).toEqual(new Map());
  });

  // The only test that waits: everything with a 1 s life is checked after one sleep.
  test('expiry: records, lookups, indexes (grants and sessions by account), session metadata, denylist and issued JWTs go when their time is up', async () => {
    const grantId = `grant-${randomUUID()}`;
    const accountId = `account-${randomUUID()}`;
    const uid = randomUUID();
    const userCode = secret(randomBytes(6).toString('hex'));
    const shortLived: Record<string, Record<string, unknown>> = {
      AccessToken: { grantId }, Session: { uid, accountId }, DeviceCode: { userCode }, Grant: { accountId }, Interaction: {},
    };
    const short = await Promise.all(Object.entries(shortLived)
      .map(async ([model, fields]) => ({ model, ...(await put(model, fields, 1)) })));
    const long = await put('RefreshToken', { grantId }, 60);
    const shortJti = randomUUID();
    await state.denylist.add(shortJti, epoch() + 1);
    await state.issuedJwts.record(grantId, shortJti, epoch() + 1);
    await state.sessions.noteActivity(uid, { userAgent: 'Browser', ip: null, at: Date.now() }, Date.now() + 1000);
    expect(await state.sessions.ofAccount(accountId)).toEqual([uid]);

    expect(await adapter('AccessToken').find(short[0].id)).toBeDefined();
    await sleep(2100);

    for (const { model, id } of short) expect(await adapter(model).find(id)).toBeUndefined();
    expect(await adapter('Session').findByUid(uid)).toBeUndefined();
    expect(await adapter('DeviceCode').findByUserCode(userCode)).toBeUndefined();
    expect(await state.grants.ofAccount(accountId)).toEqual([]);
    expect(await state.sessions.ofAccount(accountId)).toEqual([]);
    expect(await state.sessions.metadataOf(uid)).toBeUndefined();
    expect(await state.denylist.has(shortJti)).toBe(false);
    expect(await state.issuedJwts.list(grantId)).toEqual([]);
    expect(await adapter('RefreshToken').find(long.id)).toBeDefined();

    // The grant still knows its live member after the short one expired.
    await adapter('AccessToken').revokeByGrantId(grantId);
    expect(await adapter('RefreshToken').find(long.id)).toBeUndefined();
  });

  const atRest = dumpRaw ? test : test.skip;
  atRest('a dump of the store holds no raw token id or user code (of every record written above)', async () => {
    // A fresh set of every kind of record, some consumed, looked up and revoked.
    for (const model of MODELS) await put(model, model === 'Session' ? { uid: randomUUID() } : {});
    const userCode = secret(randomBytes(6).toString('hex'));
    const device = await put('DeviceCode', { userCode, grantId: `grant-${randomUUID()}` });
    const found = await adapter('DeviceCode').findByUserCode(userCode);
    await adapter('DeviceCode').upsert(found!.jti!, { ...found!, inFlight: true }, 60);
    await adapter('DeviceCode').consume(device.id);

    const dump = await dumpRaw!();
    expect(dump.length).toBeGreaterThan(0);
    expect(secrets.size).toBeGreaterThan(40);
    const leaked = [...secrets].filter((value) => dump.includes(value));
    expect(leaked).toEqual([]);
  });
}

/**
 * After its Redis came back: `probe` succeeds again within `withinMs`, and the
 * consume script, which the restarted server no longer has cached, still runs.
 */
export async function expectRecoveredAfterRestart(state: TokenState, probe: () => Promise<unknown>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  let recovered = false;
  while (!recovered && Date.now() < deadline) {
    recovered = await probe().then(() => true, () => false);
    if (!recovered) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  expect(recovered).toBe(true);
  const codes = state.adapterFactory('AuthorizationCode');
  const id = randomUUID();
  await codes.upsert(id, { kind: 'AuthorizationCode' }, 60);
  await codes.consume(id);
  await expect(codes.consume(id)).rejects.toMatchObject({ error: 'invalid_grant', error_detail: 'grant already consumed' });
}
