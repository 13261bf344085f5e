import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Knex } from 'knex';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { AuditRecord } from '../audit/index.ts';
import { noAttemptGuard, type AttemptGuard } from '../accounts/index.ts';
import type { PasskeyService, PasskeySummary, SecondFactorContext } from './types.ts';

/*
 * Passkeys (WebAuthn), verified by @simplewebauthn/server.
 *
 * The relying party is the issuer: its hostname is the RP ID and its origin
 * the only origin a response may come from. WebAuthn allows no IP address as
 * RP ID, so an issuer at an IP address has no passkeys (`available` is false
 * and the pages offer none).
 *
 * Challenges live in the token state (Redis or SQL, through an oidc-provider
 * adapter of their own model), so any instance can verify what another one
 * handed out. A challenge is kept for five minutes under what it is bound to
 * (the account for a registration, the interaction for a sign-in; one at a
 * time), and consumed atomically before the response is verified: whatever
 * the outcome, it cannot be used twice.
 *
 * At rest: the credential id, the COSE public key, the sign counter, the
 * transports, whether it is synced, the AAGUID and a name. Public material
 * only: the private key never leaves the authenticator.
 */

/** What the service needs of the token state: one adapter (src/tokens adapterFactory('WebAuthnChallenge')). */
/** Its `consume` is atomic: of concurrent consumers exactly one succeeds; the others (and a missing record) throw. */
export type ChallengeStore = Pick<Adapter, 'upsert' | 'find' | 'consume' | 'destroy'>;

export interface PasskeyServiceDeps {
  knex: Knex;
  issuer: string;
  challenges: ChallengeStore;
  audit: { record(event: AuditRecord): Promise<void>; enqueue(event: AuditRecord): void };
  /**
   * The password guard (absent: none — tests of the service alone). A passkey
   * that verifies proves the account, as a right second code does: it clears
   * the run of failures, which for an account with a second factor the right
   * password alone no longer does. A failed passkey counts nothing: a
   * signature over a fresh challenge is nothing to guess.
   */
  guard?: AttemptGuard;
}

/**
 * The signature algorithms a passkey may use: ES256, EdDSA, RS256 (COSE
 * -7, -8, -257), what every authenticator offers. Not the library's default,
 * which adds ML-DSA-44 when this Node has it: Node's ML-DSA is experimental,
 * and a passkey made with it would stop working on a Node without it.
 */
const ALGORITHMS = [-7, -8, -257];
/** How long a challenge can be answered. */
export const CHALLENGE_TTL_SECONDS = 5 * 60;
/** A person's passkeys are bounded: each one is listed, offered and checked. */
export const MAX_PASSKEYS_PER_ACCOUNT = 20;
export const MAX_PASSKEY_NAME_LENGTH = 64;
/** A WebAuthn credential id is at most 1023 bytes: 1364 characters of base64url. */
const MAX_CREDENTIAL_ID_LENGTH = 1364;
const MAX_CLIENT_DATA_LENGTH = 8192;

interface CredentialRow {
  id: string;
  account_id: string;
  name: string;
  public_key: string;
  sign_count: string | number;
  transports: string[] | string | null;
  device_type: string | null;
  backed_up: boolean | null;
  aaguid: string | null;
  user_handle: string;
  created_at: Date | string;
  last_used_at: Date | string | null;
}

type KeptChallenge =
  | { purpose: 'registration'; bindTo: string; userHandle: string }
  | { purpose: 'authentication'; bindTo: string; accountId?: string; userVerification: 'required' | 'preferred' };

const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

const transportsOf = (value: unknown): string[] =>
  (Array.isArray(value) ? [...new Set(value.filter((t): t is string => typeof t === 'string' && TRANSPORTS.has(t)))] : []);

const storedTransports = (row: CredentialRow): string[] =>
  transportsOf(typeof row.transports === 'string' ? JSON.parse(row.transports) : row.transports);

/** The RP ID of an issuer, or undefined when WebAuthn cannot have one (an IP address). */
export function relyingPartyIdOf(issuer: string): string | undefined {
  const { hostname } = new URL(issuer);
  const host = hostname.replace(/^\[|\]$/g, '');
  return isIP(host) === 0 && host.length > 0 ? host : undefined;
}

/** The challenge a response answers, read from its clientDataJSON; undefined when the response is not shaped like one. */
function challengeOf(response: unknown): string | undefined {
  const clientData = (response as { response?: { clientDataJSON?: unknown } } | null)?.response?.clientDataJSON;
  if (typeof clientData !== 'string' || clientData.length > MAX_CLIENT_DATA_LENGTH) return undefined;
  try {
    const challenge = (JSON.parse(Buffer.from(clientData, 'base64url').toString('utf8')) as { challenge?: unknown }).challenge;
    // the challenges handed out are base64url; anything else was never one (and never reaches the store)
    return typeof challenge === 'string' && /^[A-Za-z0-9_-]{16,256}$/.test(challenge) ? challenge : undefined;
  } catch {
    return undefined;
  }
}

const credentialIdOf = (response: unknown): string | undefined => {
  const id = (response as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_CREDENTIAL_ID_LENGTH ? id : undefined;
};

/** Knex returns a count as a string on Postgres and a number on PGlite; update counts likewise differ. */
const affected = (result: unknown): number => {
  if (typeof result === 'number') return result;
  const count = (result as { rowCount?: unknown } | null)?.rowCount ?? (result as { affectedRows?: unknown } | null)?.affectedRows;
  return typeof count === 'number' ? count : 0;
};

const summaryOf = (row: CredentialRow): PasskeySummary => ({
  id: row.id,
  name: row.name,
  createdAt: new Date(row.created_at),
  lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : null,
  synced: row.device_type === 'multiDevice',
});

export function createPasskeyService(deps: PasskeyServiceDeps): PasskeyService {
  const { knex, challenges, audit } = deps;
  const guard = deps.guard ?? noAttemptGuard;
  const rpID = relyingPartyIdOf(deps.issuer);
  const origin = new URL(deps.issuer).origin;
  const table = () => knex<CredentialRow>('webauthn_credentials');

  function requireAvailable(): string {
    if (!rpID) throw new Error('passkeys are unavailable: the issuer is an IP address, which WebAuthn cannot use as RP ID');
    return rpID;
  }

  const rowsOf = (accountId: string) => table().where({ account_id: accountId }).orderBy('created_at', 'asc');

  /**
   * Challenges are kept by what they are bound to (the account for a
   * registration, the interaction for a sign-in), one at a time: asking for
   * options again replaces the one before. So a page (even an anonymous
   * sign-in page) can keep at most one record in the token state, however
   * often it asks.
   */
  const challengeKey = (purpose: KeptChallenge['purpose'], bindTo: string) => `${purpose}\u0000${bindTo}`;

  async function keep(kept: KeptChallenge & { challenge: string }): Promise<void> {
    await challenges.upsert(challengeKey(kept.purpose, kept.bindTo), kept as unknown as AdapterPayload, CHALLENGE_TTL_SECONDS);
  }

  /**
   * The challenge kept for this purpose and binding, consumed: used once,
   * whatever happens next (the response may still fail). Undefined when there
   * is none (never made, expired, used) or the response answers another one.
   */
  async function claim(purpose: KeptChallenge['purpose'], bindTo: string, answered: string | undefined): Promise<KeptChallenge | undefined> {
    const key = challengeKey(purpose, bindTo);
    const kept = await challenges.find(key) as (KeptChallenge & { challenge?: unknown; consumed?: unknown }) | undefined;
    if (!kept || kept.consumed !== undefined || typeof kept.challenge !== 'string') return undefined;
    try {
      await challenges.consume(key);
    } catch {
      return undefined; // another request consumed it first
    }
    await challenges.destroy(key).catch(() => {}); // it expires anyway
    const expected = Buffer.from(kept.challenge);
    const given = Buffer.from(answered ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected) ? kept : undefined;
  }

  /**
   * The WebAuthn user handle of an account's passkeys: 32 random bytes, made
   * when the account registers its first passkey and reused for the next ones
   * (so an authenticator keeps one passkey per account and replaces it rather
   * than piling up copies). Not the username or e-mail (which change, and
   * which an authenticator may show or sync to others) and not the account
   * id (the `sub` clients see): random, it says nothing about the person and
   * links to nothing else.
   */
  async function userHandleOf(accountId: string): Promise<string> {
    const existing = await table().where({ account_id: accountId }).first('user_handle');
    return existing?.user_handle ?? randomBytes(32).toString('base64url');
  }

  const failed = (reason: string, context: SecondFactorContext, accountId: string | null) => {
    audit.enqueue({
      type: 'signin.second_factor_failed', actor: null, subject: accountId, clientId: context.clientId ?? null,
      details: { method: 'passkey', reason, via: context.via },
    });
    return { ok: false as const, reason };
  };

  return {
    available: rpID !== undefined,

    async list(accountId) {
      return (await rowsOf(accountId)).map(summaryOf);
    },

    async registrationOptions(account) {
      const rp = requireAvailable();
      const [rows, userHandle] = await Promise.all([rowsOf(account.id), userHandleOf(account.id)]);
      const options = await generateRegistrationOptions({
        rpName: 'Tessera',
        rpID: rp,
        userName: account.username,
        userDisplayName: account.username,
        userID: Buffer.from(userHandle, 'base64url'),
        timeout: CHALLENGE_TTL_SECONDS * 1000,
        attestationType: 'none',
        supportedAlgorithmIDs: ALGORITHMS,
        excludeCredentials: rows.map((row) => ({ id: row.id, transports: storedTransports(row) })),
        // discoverable, so the passkey can sign in without a username
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
      });
      await keep({ purpose: 'registration', bindTo: account.id, userHandle, challenge: options.challenge });
      return options as unknown as Record<string, unknown>;
    },

    async register(accountId, response, name) {
      const rp = requireAvailable();
      const kept = await claim('registration', accountId, challengeOf(response));
      if (!kept || kept.purpose !== 'registration') return { ok: false, reason: 'challenge' };
      const label = name.trim().slice(0, MAX_PASSKEY_NAME_LENGTH) || 'Passkey';

      let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        verified = await verifyRegistrationResponse({
          response: response as RegistrationResponseJSON,
          expectedChallenge: challengeOf(response)!,
          expectedOrigin: origin,
          expectedRPID: rp,
          // asked as `preferred`: an authenticator without a PIN or biometric can still be a second factor
          requireUserVerification: false,
          supportedAlgorithmIDs: ALGORITHMS,
        });
      } catch {
        return { ok: false, reason: 'not_verified' };
      }
      if (!verified.verified) return { ok: false, reason: 'not_verified' };
      const info = verified.registrationInfo;
      if (info.credential.id.length > MAX_CREDENTIAL_ID_LENGTH) return { ok: false, reason: 'not_verified' };

      const count = await table().where({ account_id: accountId }).count<{ n: string | number }[]>({ n: '*' });
      if (Number(count[0]?.n ?? 0) >= MAX_PASSKEYS_PER_ACCOUNT) return { ok: false, reason: 'too_many' };

      const inserted = await table().insert({
        id: info.credential.id,
        account_id: accountId,
        name: label,
        public_key: Buffer.from(info.credential.publicKey).toString('base64url'),
        sign_count: info.credential.counter,
        transports: JSON.stringify(transportsOf((response as RegistrationResponseJSON).response?.transports)) as never,
        device_type: info.credentialDeviceType,
        backed_up: info.credentialBackedUp,
        aaguid: info.aaguid,
        user_handle: kept.userHandle,
      }).onConflict('id').ignore().returning('id');
      if (inserted.length === 0) return { ok: false, reason: 'already_registered' };

      await audit.record({
        type: 'mfa.passkey_added', actor: accountId, subject: accountId, clientId: null,
        details: { passkey_id: info.credential.id, synced: info.credentialDeviceType === 'multiDevice' },
      });
      return { ok: true, id: info.credential.id };
    },

    async remove(accountId, passkeyId) {
      if (!passkeyId || passkeyId.length > MAX_CREDENTIAL_ID_LENGTH) return false;
      const removed = affected(await table().where({ id: passkeyId, account_id: accountId }).delete());
      if (removed === 0) return false;
      await audit.record({ type: 'mfa.passkey_removed', actor: accountId, subject: accountId, clientId: null, details: { passkey_id: passkeyId } });
      return true;
    },

    async authenticationOptions({ accountId, bindTo }) {
      const rp = requireAvailable();
      const rows = accountId ? await rowsOf(accountId) : [];
      // With an account (second factor): its passkeys, the PIN or biometric welcome.
      // Without (no password): any passkey of this site, and the person must be verified.
      const userVerification = accountId ? 'preferred' as const : 'required' as const;
      const options = await generateAuthenticationOptions({
        rpID: rp,
        allowCredentials: rows.map((row) => ({ id: row.id, transports: storedTransports(row) })),
        userVerification,
        timeout: CHALLENGE_TTL_SECONDS * 1000,
      });
      await keep({ purpose: 'authentication', bindTo, ...(accountId ? { accountId } : {}), userVerification, challenge: options.challenge });
      return options as unknown as Record<string, unknown>;
    },

    async authenticate(response, { accountId, bindTo, requireUserVerification, context }) {
      const rp = requireAvailable();
      const challenge = challengeOf(response);
      const kept = await claim('authentication', bindTo, challenge);
      if (!kept || kept.purpose !== 'authentication' || kept.accountId !== accountId) {
        return failed('challenge', context, accountId ?? null);
      }
      const credentialId = credentialIdOf(response);
      const row = credentialId
        ? await table()
          .join('accounts', 'accounts.id', 'webauthn_credentials.account_id')
          .where('webauthn_credentials.id', credentialId)
          .first<(CredentialRow & { disabled: boolean; username: string }) | undefined>('webauthn_credentials.*', 'accounts.disabled', 'accounts.username')
        : undefined;
      // unknown, removed, another account's, a disabled account's: the same answer to the person
      if (!row) return failed('unknown_passkey', context, accountId ?? null);
      if (accountId !== undefined && row.account_id !== accountId) return failed('other_account', context, accountId);
      if (row.disabled) return failed('disabled', context, row.account_id);
      // a discoverable credential names its account: it must be the one the passkey was registered for
      const userHandle = (response as AuthenticationResponseJSON).response?.userHandle;
      if (accountId === undefined && userHandle !== row.user_handle) return failed('user_handle', context, row.account_id);
      if (accountId !== undefined && userHandle && userHandle !== row.user_handle) return failed('user_handle', context, row.account_id);

      const mustVerifyUser = requireUserVerification || kept.userVerification === 'required';
      let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
      try {
        verified = await verifyAuthenticationResponse({
          response: response as AuthenticationResponseJSON,
          expectedChallenge: challenge!,
          expectedOrigin: origin,
          expectedRPID: rp,
          credential: { id: row.id, publicKey: Buffer.from(row.public_key, 'base64url'), counter: Number(row.sign_count), transports: storedTransports(row) },
          requireUserVerification: mustVerifyUser,
        });
      } catch {
        return failed('not_verified', context, row.account_id);
      }
      if (!verified.verified) return failed('not_verified', context, row.account_id);
      const { newCounter, userVerified, credentialBackedUp } = verified.authenticationInfo;
      if (mustVerifyUser && !userVerified) return failed('not_verified', context, row.account_id);

      // The library refused a counter that did not grow; this refuses the loser of two
      // concurrent uses that both grew past the stored value (a cloned authenticator).
      const updated = affected(await table()
        .where({ id: row.id })
        .andWhere((q) => (newCounter === 0 ? q.where('sign_count', 0) : q.where('sign_count', '<', newCounter)))
        .update({ sign_count: newCounter, last_used_at: new Date(), backed_up: credentialBackedUp }));
      if (updated === 0) return failed('counter', context, row.account_id);
      await guard.recordSuccess(row.username, context.ip);

      return { ok: true, accountId: row.account_id, method: row.device_type === 'multiDevice' ? 'swk' : 'hwk', userVerified };
    },
  };
}
