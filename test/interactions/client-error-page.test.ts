// The page that stands in for an authorization error redirect to a
// self-registered client (RFC 9700 §4.11.2, src/provider/self-registered-errors.ts):
// what a client chose (its redirect URI, hence host and link) is escaped, and
// nothing on the page runs or submits by itself.
import { describe, test, expect } from '@jest/globals';
import { clientErrorPage } from '../../views/client-error.ts';

describe('the client error page', () => {
  test('hostile values are escaped in text and attributes; no script; the button submits only when pressed', () => {
    const page = clientErrorPage({
      host: 'evil.example"><script>alert(1)</script>',
      error: 'invalid_request<img src=x>',
      errorDescription: '<b>bold</b>',
      continueTo: { action: 'https://evil.example/cb"><script>x</script>', fields: { state: '"><script>y</script>' } },
      requestId: 'req-1',
    });
    expect(page).not.toMatch(/<script|<img|<b>/);
    expect(page).toContain('evil.example&quot;&gt;&lt;script&gt;');
    expect(page).toContain('<button type="submit">Continue to evil.example&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</button>');
  });

  test('without a target it may send people to (a script scheme), no link at all', () => {
    const page = clientErrorPage({ host: 'app', error: 'login_required', requestId: 'r' });
    expect(page).not.toContain('<a href');
    expect(page).not.toContain('<form');
    expect(page).toContain('Close this window');
  });
});
