// The pages of the second step and of setting one up inside a sign-in, as
// functions of their data: labels tied to inputs, the CSRF token in every
// form, every value escaped, no script; and the rules that pick the page.
import { describe, expect, test } from '@jest/globals';
import { secondFactorPage, WRONG_CODE_MESSAGE } from '../../views/second-factor.ts';
import { enrollmentPage, recoveryCodesPage, secondFactorReadyPage } from '../../views/enroll-second-factor.ts';
import { nextStep, stepUpOf } from '../../src/interactions/second-step.ts';
import { parseForms } from '../support/browser-agent.ts';
import { acrValuesAskForSecondFactor, essentialAcrAsksForSecondFactor } from '../../src/provider/second-factor-requirement.ts';

const EVIL = '<script>alert("x")</script>';
const BASE = '/interaction/uid-1';
const CSRF = 'csrf-token-1';

function labelledInput(page: string, label: string): string {
  const m = new RegExp(`<label for="([^"]+)">${label}</label>`).exec(page);
  expect(m).not.toBeNull();
  const input = new RegExp(`<input[^>]*\\bid="${m![1]}"[^>]*>`).exec(page);
  expect(input).not.toBeNull();
  return input![0];
}

const everyFormHasCsrf = (page: string) => {
  const forms = parseForms(page);
  expect(forms.length).toBeGreaterThan(0);
  for (const form of forms) expect(form.fields.csrf).toBe(CSRF);
};

const page = (overrides: Partial<Parameters<typeof secondFactorPage>[0]> = {}) => secondFactorPage({
  base: BASE, csrfToken: CSRF, clientName: EVIL, variant: 'code', totp: true, passkeys: false, requestId: 'req-1', ...overrides,
});

describe('the second step', () => {
  test('a Code field tied to its label, for one-time codes; Verify posts it with the CSRF token', () => {
    const html = page();
    expect(html).toContain('<h1>Two-step verification</h1>');
    const input = labelledInput(html, 'Code');
    expect(input).toContain('inputmode="numeric"');
    expect(input).toContain('autocomplete="one-time-code"');
    expect(input).toContain('name="code"');
    const [form] = parseForms(html);
    expect(form).toMatchObject({ action: `${BASE}/second-factor`, method: 'post', buttons: ['Verify'] });
    everyFormHasCsrf(html);
    expect(html).toContain(`href="${BASE}?with=recovery-code"`);
    expect(html).toContain('Use a recovery code');
    expect(html).not.toContain(EVIL);
    expect(html).not.toMatch(/<script/);
    expect(html).not.toContain('use-passkey');
  });

  test('the recovery-code variant: a Recovery code field, and a way back to the app code', () => {
    const html = page({ variant: 'recovery-code', error: WRONG_CODE_MESSAGE });
    const input = labelledInput(html, 'Recovery code');
    expect(input).toContain('name="code"');
    expect(input).not.toContain('one-time-code');
    expect(parseForms(html)[0].fields.with).toBe('recovery-code');
    expect(html).toContain('<p class="alert" role="alert">That code is not right.</p>');
    expect(html).toContain(`<a href="${BASE}">Use a code from your authenticator app</a>`);
  });

  test('passkeys: the hidden button the passkey script takes over, in a form with the CSRF token', () => {
    const html = page({ passkeys: true });
    expect(html).toContain(`<button type="button" id="use-passkey" class="secondary" hidden data-options="${BASE}/passkey/options" data-action="${BASE}/passkey">Use a passkey</button>`);
    everyFormHasCsrf(html);
    const alone = page({ totp: false, passkeys: true, variant: 'recovery-code' });
    // no TOTP: no code field, no recovery codes
    expect(alone).not.toContain('name="code"');
    expect(alone).not.toContain('recovery');
    expect(alone).toContain('id="use-passkey" hidden');
    expect(alone).toContain('<noscript>');
  });
});

describe('setting a second factor up inside a sign-in', () => {
  const qrSvg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 21 21"><path d="M0 0h7v7H0z"/></svg>';

  test('the QR code, the key as text in groups, a Code field and Turn on', () => {
    const html = enrollmentPage({ action: `${BASE}/enroll`, csrfToken: CSRF, clientName: EVIL, secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', qrSvg, requestId: 'r' });
    expect(html).toContain('<h1>Set up two-step verification</h1>');
    expect(html).toContain('<svg role="img" aria-label="QR code to scan with your authenticator app" width="200" height="200" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 21 21">');
    expect(html).toContain('<code id="totp-secret" class="secret">JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP</code>');
    expect(labelledInput(html, 'Code')).toContain('autocomplete="one-time-code"');
    expect(parseForms(html)[0]).toMatchObject({ action: `${BASE}/enroll`, buttons: ['Turn on'] });
    everyFormHasCsrf(html);
    expect(html).not.toContain(EVIL);
  });

  test('the recovery codes once, then Continue; reloaded, Continue without them', () => {
    const codes = ['aaaa-bbbb', 'cccc-dddd'];
    const html = recoveryCodesPage({ action: `${BASE}/continue`, csrfToken: CSRF, clientName: 'App', codes, requestId: 'r' });
    for (const code of codes) expect(html).toContain(`<li><code>${code}</code></li>`);
    expect(parseForms(html)[0]).toMatchObject({ action: `${BASE}/continue`, buttons: ['Continue'] });
    everyFormHasCsrf(html);
    const again = secondFactorReadyPage({ action: `${BASE}/continue`, csrfToken: CSRF, clientName: 'App', requestId: 'r' });
    expect(again).not.toContain('aaaa-bbbb');
    expect(parseForms(again)[0].buttons).toEqual(['Continue']);
  });
});

describe('which step follows the password', () => {
  const none = { totp: false, passkeys: 0, recoveryCodesLeft: 0 };
  const pwd = { accountId: 'a', methods: ['pwd' as const], ts: 1 };

  test('a second factor is always asked for; set up only when required; else the password is enough', () => {
    expect(nextStep(pwd, { ...none, totp: true }, false)).toBe('second_factor');
    expect(nextStep(pwd, { ...none, passkeys: 1 }, true)).toBe('second_factor');
    expect(nextStep(pwd, none, true)).toBe('enroll');
    expect(nextStep(pwd, none, false)).toBe('complete');
    expect(nextStep({ ...pwd, methods: ['pwd', 'otp'] }, { ...none, totp: true }, true)).toBe('complete');
  });

  const interaction = (reasons: string[], session?: { accountId: string; amr?: string[] }) =>
    ({ prompt: { name: 'login', reasons, details: {} }, session, result: undefined }) as never;

  test('a step-up only for a signed-in person whose session proved a password, when a second factor is all that is asked', () => {
    expect(stepUpOf(interaction(['mfa_required'], { accountId: 'a', amr: ['pwd'] }))).toMatchObject({ accountId: 'a', methods: ['pwd'] });
    expect(stepUpOf(interaction(['mfa_required', 'essential_acr'], { accountId: 'a', amr: ['pwd'] }))).toMatchObject({ accountId: 'a' });
    // no session, prompt=login, max_age: the password again
    expect(stepUpOf(interaction(['no_session', 'mfa_required']))).toBeUndefined();
    expect(stepUpOf(interaction(['login_prompt', 'mfa_required'], { accountId: 'a', amr: ['pwd'] }))).toBeUndefined();
    expect(stepUpOf(interaction(['max_age', 'mfa_required'], { accountId: 'a', amr: ['pwd'] }))).toBeUndefined();
    // not asked for a second factor at all
    expect(stepUpOf(interaction(['essential_acr'], { accountId: 'a', amr: ['pwd'] }))).toBeUndefined();
    // a session without a password proven (or from before amr): a code would not make two kinds
    expect(stepUpOf(interaction(['mfa_required'], { accountId: 'a', amr: ['swk'] }))).toBeUndefined();
    expect(stepUpOf(interaction(['mfa_required'], { accountId: 'a' }))).toBeUndefined();
  });
});

describe('what asks for a second factor in a request', () => {
  test('acr_values naming mfa; nothing else', () => {
    expect(acrValuesAskForSecondFactor('mfa')).toBe(true);
    expect(acrValuesAskForSecondFactor('pwd mfa')).toBe(true);
    expect(acrValuesAskForSecondFactor('pwd')).toBe(false);
    expect(acrValuesAskForSecondFactor('mfa2 xmfa')).toBe(false);
    expect(acrValuesAskForSecondFactor(undefined)).toBe(false);
    expect(acrValuesAskForSecondFactor(['mfa'])).toBe(false);
  });

  // the claims parameter is not enabled (features.claimsParameter); should it be, this is how it is read
  test('an essential acr whose only acceptable level is mfa', () => {
    const acr = (value: unknown) => ({ id_token: { acr: value } });
    expect(essentialAcrAsksForSecondFactor(acr({ essential: true, value: 'mfa' }))).toBe(true);
    expect(essentialAcrAsksForSecondFactor(acr({ essential: true, values: ['mfa'] }))).toBe(true);
    expect(essentialAcrAsksForSecondFactor(acr({ essential: true, values: ['pwd', 'mfa'] }))).toBe(false);
    expect(essentialAcrAsksForSecondFactor(acr({ value: 'mfa' }))).toBe(false);
    expect(essentialAcrAsksForSecondFactor(acr({ essential: true, value: 'pwd' }))).toBe(false);
    expect(essentialAcrAsksForSecondFactor(undefined)).toBe(false);
  });
});
