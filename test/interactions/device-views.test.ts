// The device flow's pages (views/device.ts): labels tied to their inputs,
// buttons that say what they do, and every value a client or a person chose
// escaped (a client name, a scope, a typed code).
import { describe, expect, test } from '@jest/globals';
import { confirmDevicePage, deviceConnectedPage, userCodePage, WRONG_USER_CODE_MESSAGE } from '../../views/device.ts';
import { parseForms } from '../support/browser-agent.ts';

const EVIL = '<script>alert("x")</script>';
const EVIL_ESCAPED = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;';

describe('device flow pages', () => {
  test('the code entry: a labelled field, one Continue button, the form token; a wrong code is an alert', () => {
    const page = userCodePage({ action: '/device', xsrf: 'token-1', userCode: 'bbbb-bbbb', error: WRONG_USER_CODE_MESSAGE, requestId: 'r-1' });
    expect(page).toMatch(/<label for="user_code">Code<\/label>\s*<input type="text" id="user_code" name="user_code"/);
    const [form] = parseForms(page);
    expect(form).toMatchObject({ action: '/device', method: 'post', fields: { xsrf: 'token-1', user_code: 'bbbb-bbbb' }, buttons: ['Continue'] });
    expect(page).toContain(`<p class="alert" role="alert">${WRONG_USER_CODE_MESSAGE}</p>`);
  });

  test('what a person typed is echoed escaped, and only when it could be a code', () => {
    expect(userCodePage({ action: '/device', xsrf: 'x', userCode: '"><b>x', requestId: 'r' })).toContain('value="&quot;&gt;&lt;b&gt;x"');
    const long = userCodePage({ action: '/device', xsrf: 'x', userCode: 'A'.repeat(33), requestId: 'r' });
    expect(long).not.toContain('A'.repeat(33));
  });

  test('the confirmation: client, code, scopes and address escaped; Continue and Deny each post the code', () => {
    const page = confirmDevicePage({
      action: '/device', xsrf: 'token-2', userCode: 'WDJB-MJHT', clientName: EVIL,
      scopes: [{ name: EVIL, description: 'Use it' }], resources: [{ identifier: 'https://api.example.test', name: EVIL }],
      deviceAddress: EVIL, requestId: 'r-2',
    });
    expect(page).not.toContain(EVIL);
    expect(page.split(EVIL_ESCAPED).length - 1).toBe(4);
    expect(page).toContain('<strong>WDJB-MJHT</strong>');
    const forms = parseForms(page);
    expect(forms.map((f) => f.buttons)).toEqual([['Continue'], ['Deny']]);
    expect(forms[0].fields).toEqual({ xsrf: 'token-2', user_code: 'WDJB-MJHT', confirm: 'yes' });
    expect(forms[1].fields).toEqual({ xsrf: 'token-2', user_code: 'WDJB-MJHT', abort: 'yes' });
  });

  test('nothing listed still says what is asked; the end page says the window can be closed', () => {
    const page = confirmDevicePage({ action: '/device', xsrf: 'x', userCode: 'WDJB-MJHT', clientName: 'TV', scopes: [], resources: [], requestId: 'r' });
    expect(page).toContain('<li>Access your account</li>');
    expect(page).not.toContain('asked from the address');
    const done = deviceConnectedPage({ clientName: EVIL, requestId: 'r' });
    expect(done).toContain(EVIL_ESCAPED);
    expect(done).toContain('You can close this window');
  });
});
