import type { Knex } from 'knex';
import QRCode from 'qrcode';
import { noAttemptGuard, type AttemptGuard } from '../accounts/index.ts';
import type { AuditRecord } from '../audit/index.ts';
import { createMfaRepository } from './repository.ts';
import { newRecoveryCodes, normalizeRecoveryCode } from './recovery-codes.ts';
import { matchingStep, newTotpSecret, TOTP_DIGITS, TOTP_PERIOD_SECONDS } from './totp.ts';
import type { CodeCheck, MfaService, SecondFactorContext, SecondFactors, TotpEnrollment } from './types.ts';

/*
 * TOTP and recovery codes (the MfaService contract of types.ts).
 *
 * Every code a person types goes through the same brute-force guard as
 * passwords (src/accounts/lockout.ts), keyed by the account's username: a
 * wrong code is a failure toward the same lock, so guessing codes is no
 * cheaper than guessing passwords, and a locked account refuses both. The
 * audit log gets what was tried and where (never the code).
 */

export interface MfaServiceDeps {
  knex: Knex;
  /** KEYS_DIR/mfa-key.json: seals TOTP secrets, keys the recovery-code HMAC */
  mfaKey: Buffer;
  accounts: { findById(id: string): Promise<{ username: string } | undefined> };
  /** the password guard (absent: none — tests of the service alone) */
  guard?: AttemptGuard;
  audit: { enqueue(event: AuditRecord): void; record(event: AuditRecord): Promise<void> };
  /** the issuer URL: its host names the account in authenticator apps */
  issuer: string;
  /** milliseconds since the epoch (tests move time; default Date.now) */
  now?: () => number;
}

/** How much a typed code may be: longer input is not a code, and is not processed further. */
const MAX_CODE_LENGTH = 64;

type TriedMethod = 'totp' | 'recovery_code' | 'malformed';
type Attempt<T> = { ok: true; result: T } | { ok: false; method: TriedMethod };
type Refusal = Exclude<CodeCheck, { ok: true }>;

const INVALID: Refusal = Object.freeze({ ok: false, reason: 'invalid' });

/** What a typed code looks like: six digits (TOTP), a recovery code, or neither. */
function kindOf(code: string): { method: TriedMethod; value: string } {
  if (typeof code !== 'string' || code.length > MAX_CODE_LENGTH) return { method: 'malformed', value: '' };
  const compact = code.replace(/[\s-]+/g, '');
  if (new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(compact)) return { method: 'totp', value: compact };
  if (normalizeRecoveryCode(code)) return { method: 'recovery_code', value: code };
  return { method: 'malformed', value: '' };
}

/** otpauth://totp/ URI (Key URI Format, as Google Authenticator and the others read it). */
export function otpauthUri(issuerHost: string, username: string, secret: string): string {
  const label = `${encodeURIComponent(issuerHost)}:${encodeURIComponent(username)}`;
  const query = `secret=${secret}&issuer=${encodeURIComponent(issuerHost)}&algorithm=SHA1&digits=${TOTP_DIGITS}&period=${TOTP_PERIOD_SECONDS}`;
  return `otpauth://totp/${label}?${query}`;
}

export function createMfaService(deps: MfaServiceDeps): MfaService {
  const { accounts, audit } = deps;
  const guard = deps.guard ?? noAttemptGuard;
  const repo = createMfaRepository(deps.knex, { mfaKey: deps.mfaKey });
  // the host name without a port: apps split the label at its first colon, so "id.example:8443:alice" would name
  // the wrong account; IPv6 literals lose their colons for the same reason
  const issuerHost = new URL(deps.issuer).hostname.replace(/[[\]]/g, '').replace(/:/g, '.');
  const nowSeconds = () => Math.floor((deps.now ?? Date.now)() / 1000);

  async function enrollmentOf(username: string, secret: string): Promise<TotpEnrollment> {
    const uri = otpauthUri(issuerHost, username, secret);
    // an SVG made here: the page loads no image from anywhere
    const qrSvg = await QRCode.toString(uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
    return { secret, otpauthUri: uri, qrSvg };
  }

  async function usernameOf(accountId: string): Promise<string | undefined> {
    return (await accounts.findById(accountId))?.username;
  }

  /**
   * One guarded attempt: refused while the account is locked, a failure
   * counted (and audited) when `check` says no, the counters cleared when it
   * says yes — unless `provesAccount` is false (the first code of a secret
   * just made proves only that its maker has it: it must not wipe the
   * failures of wrong passwords, or a session could clear them at will).
   * An error in between gives back what beforeAttempt counted.
   */
  async function guarded<T>(accountId: string, context: SecondFactorContext, check: () => Promise<Attempt<T>>, provesAccount = true): Promise<{ ok: true; result: T } | Refusal> {
    const username = await usernameOf(accountId);
    if (username === undefined) return INVALID;
    const failed = (method: TriedMethod | undefined, reason: 'invalid' | 'locked') => audit.enqueue({
      type: 'signin.second_factor_failed', actor: null, subject: accountId, clientId: context.clientId ?? null,
      details: { via: context.via, ...(method ? { method } : {}), reason },
    });
    const wait = await guard.beforeAttempt(username, context.ip);
    if (wait !== undefined) {
      failed(undefined, 'locked');
      return { ok: false, reason: 'locked', retryAfterSeconds: wait };
    }
    let outcome: Attempt<T>;
    try {
      outcome = await check();
    } catch (error) {
      await guard.releaseAttempt?.(username, context.ip).catch(() => {});
      throw error;
    }
    if (!outcome.ok) {
      const lockedFor = await guard.recordFailure(username, context.ip);
      failed(outcome.method, 'invalid');
      if (lockedFor) {
        audit.enqueue({ type: 'account.locked', actor: null, subject: accountId, clientId: context.clientId ?? null, details: { seconds: lockedFor, via: context.via } });
      }
      return INVALID;
    }
    if (provesAccount) await guard.recordSuccess(username, context.ip);
    else await guard.releaseAttempt?.(username, context.ip);
    return outcome;
  }

  /** A current TOTP code (its step spent) or an unused recovery code (spent). */
  async function checkCode(accountId: string, code: string, context: SecondFactorContext): Promise<Attempt<'totp' | 'recovery_code'>> {
    const typed = kindOf(code);
    if (typed.method === 'totp') {
      const { secret } = await repo.totpState(accountId);
      const step = secret === undefined ? undefined : matchingStep(secret, typed.value, nowSeconds());
      if (step !== undefined && await repo.useTotpStep(accountId, step)) return { ok: true, result: 'totp' };
      return { ok: false, method: 'totp' };
    }
    if (typed.method === 'recovery_code') {
      if (!await repo.useRecoveryCode(accountId, typed.value)) return { ok: false, method: 'recovery_code' };
      audit.enqueue({ type: 'mfa.recovery_code_used', actor: accountId, subject: accountId, clientId: context.clientId ?? null, details: { via: context.via } });
      return { ok: true, result: 'recovery_code' };
    }
    return { ok: false, method: 'malformed' };
  }

  async function createRecoveryCodes(accountId: string): Promise<string[]> {
    const codes = newRecoveryCodes();
    await repo.replaceRecoveryCodes(accountId, codes);
    await audit.record({ type: 'mfa.recovery_codes_created', actor: accountId, subject: accountId, details: { count: codes.length } });
    return codes;
  }

  return {
    factorsOf: (accountId) => repo.counts(accountId),

    async startTotpEnrollment(accountId) {
      const username = await usernameOf(accountId);
      if (username === undefined) throw new Error('startTotpEnrollment: no such account');
      const secret = newTotpSecret();
      await repo.savePendingTotp(accountId, secret);
      return enrollmentOf(username, secret);
    },

    async pendingTotpEnrollment(accountId) {
      const { pendingSecret } = await repo.totpState(accountId);
      const username = pendingSecret && await usernameOf(accountId);
      return pendingSecret && username !== undefined ? enrollmentOf(username, pendingSecret) : undefined;
    },

    async confirmTotpEnrollment(accountId, code, context) {
      const state = await repo.totpState(accountId);
      const { pendingSecret, pendingSealed } = state;
      if (!pendingSecret || !pendingSealed) return { ok: false, reason: 'no_enrollment' };
      const outcome = await guarded(accountId, context, async (): Promise<Attempt<string[]>> => {
        const typed = kindOf(code);
        const step = typed.method === 'totp' ? matchingStep(pendingSecret, typed.value, nowSeconds()) : undefined;
        if (step === undefined) return { ok: false, method: typed.method };
        const codes = newRecoveryCodes();
        // false when another enrollment replaced this secret meanwhile: the code was for a secret no longer waiting
        if (!await repo.confirmTotp(accountId, pendingSealed, step, codes)) return { ok: false, method: 'totp' };
        return { ok: true, result: codes };
      }, false);
      if (!outcome.ok) return outcome;
      await audit.record({ type: 'mfa.totp_enabled', actor: accountId, subject: accountId, details: { via: context.via, replaced: state.secret !== undefined } });
      await audit.record({ type: 'mfa.recovery_codes_created', actor: accountId, subject: accountId, details: { count: outcome.result.length } });
      return { ok: true, recoveryCodes: outcome.result };
    },

    async verifyCode(accountId, code, context) {
      const outcome = await guarded(accountId, context, () => checkCode(accountId, code, context));
      return outcome.ok ? { ok: true, method: outcome.result } : outcome;
    },

    async disableTotp(accountId, code, context) {
      const outcome = await guarded(accountId, context, () => checkCode(accountId, code, context));
      if (!outcome.ok) return outcome;
      await repo.deleteTotp(accountId);
      await audit.record({ type: 'mfa.totp_disabled', actor: accountId, subject: accountId, clientId: context.clientId ?? null, details: { via: context.via, method: outcome.result } });
      return { ok: true, method: outcome.result };
    },

    newRecoveryCodes: createRecoveryCodes,

    async reset(accountId, actor): Promise<SecondFactors> {
      const removed = await repo.deleteAll(accountId);
      await audit.record({
        type: 'mfa.reset', actor, subject: accountId,
        details: { totp: removed.totp, passkeys: removed.passkeys, recovery_codes: removed.recoveryCodesLeft },
      });
      return removed;
    },
  };
}
