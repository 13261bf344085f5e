// The /account pages as functions of their data: hostile values are escaped,
// every control has a name that says what it does, sessions from the
// directory are listed with this device marked.
import { describe, test, expect } from '@jest/globals';
import { accountPage, resetPasswordPage, resetLinkInvalidPage } from '../../views/account.ts';
import { redactSecretPaths } from '../../src/account/index.ts';
import { accountCsrfToken, isValidAccountCsrfToken } from '../../src/account/csrf.ts';
import { csrfTokenFor } from '../../src/interactions/csrf.ts';

const EVIL = '<script>alert("x")</script>';

const base = {
  username: 'alice',
  csrfToken: 'token-1',
  apps: [{ grantId: 'g1', clientName: EVIL, scopes: [{ name: 'openid', description: 'Sign you in' }] }],
  sessions: [
    { id: 's-here', description: 'Chrome on Linux', ip: '192.0.2.1', createdAt: new Date('2026-01-02T03:04:05Z'), lastActiveAt: null, current: true },
    { id: 's-there', description: EVIL, ip: null, createdAt: new Date('2026-01-01T00:00:00Z'), lastActiveAt: new Date('2026-01-03T00:00:00Z'), current: false },
  ],
  requestId: 'req-1',
};

describe('account page', () => {
  test('escapes app and device names, and names every button after what it acts on', () => {
    const page = accountPage(base);
    expect(page).not.toContain(EVIL);
    expect(page).toContain('&lt;script&gt;');
    expect(page).toContain('aria-label="Revoke access of &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;">Revoke</button>');
    expect(page).toContain('aria-label="Sign out on this device">Sign out</button>');
    expect(page).toMatch(/aria-label="Sign out &lt;script&gt;[^"]*, signed in 2026-01-01 00:00 UTC">Sign out<\/button>/);
    expect(page).toContain('>Sign out everywhere</button>');
    expect(page).toContain('>Change password</button>');
    for (const [id, label] of [['current-password', 'Current password'], ['new-password', 'New password'], ['repeat-password', 'Repeat new password']]) {
      expect(page).toContain(`<label for="${id}">${label}</label>`);
      expect(page).toMatch(new RegExp(`<input type="password" id="${id}"`));
    }
    // every form posts and carries the CSRF token
    const forms = page.match(/<form [^>]*>/g)!;
    expect(forms.length).toBe(6);
    for (const form of forms) expect(form).toMatch(/method="post"/);
    expect(page.match(/name="csrf" value="token-1"/g)!.length).toBe(6);
    expect(page).toContain('this device');
    expect(page).toContain('from 192.0.2.1');
  });

  test('nothing connected, no session known: says so; a password error is an alert tied to the field', () => {
    const page = accountPage({ ...base, apps: [], sessions: [], passwordError: 'The two new passwords are not the same.' });
    expect(page).toContain('No application has access to your account.');
    expect(page).toContain('role="alert" id="password-error"');
    expect(page).toContain('aria-describedby="password-error"');
  });

  test('reset pages: the username is escaped; the invalid-link page says nothing about why', () => {
    const page = resetPasswordPage({ action: '/account/reset/abc', csrfToken: 't', username: EVIL, requestId: 'r' });
    expect(page).not.toContain(EVIL);
    expect(page).toContain('<label for="new-password">New password</label>');
    expect(page).toContain('>Set new password</button>');
    expect(resetLinkInvalidPage('r')).not.toMatch(/expired|used|unknown/i);
  });
});

describe('account helpers', () => {
  test('reset tokens never reach the access log', () => {
    expect(redactSecretPaths('/account/reset/abcDEF_-123')).toBe('/account/reset/[redacted]');
    expect(redactSecretPaths('/ACCOUNT/RESET/abc/extra')).toBe('/ACCOUNT/RESET/[redacted]/extra');
    expect(redactSecretPaths('/account')).toBe('/account');
    expect(redactSecretPaths('/token')).toBe('/token');
  });

  test('CSRF tokens are bound to their purpose and what they act for, and differ from the interaction pages\' tokens', () => {
    const token = accountCsrfToken('secret', 'session', 'uid-1');
    expect(isValidAccountCsrfToken('secret', 'session', 'uid-1', token)).toBe(true);
    expect(isValidAccountCsrfToken('secret', 'session', 'uid-2', token)).toBe(false);
    expect(isValidAccountCsrfToken('secret', 'reset', 'uid-1', token)).toBe(false);
    expect(isValidAccountCsrfToken('other', 'session', 'uid-1', token)).toBe(false);
    expect(isValidAccountCsrfToken('secret', 'session', 'uid-1', undefined)).toBe(false);
    expect(isValidAccountCsrfToken('secret', 'session', 'uid-1', '')).toBe(false);
    expect(token).not.toBe(csrfTokenFor('secret', 'uid-1'));
  });
});
