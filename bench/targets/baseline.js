// Target: the bare oidc-provider (bench/baseline-server.js), the reference of every ratio.
import { fileURLToPath } from 'node:url';

import {
  API_RESOURCE, JWT_INTROSPECTION_PATH, OPAQUE_RESOURCE, REDIRECT_URI, RESOURCE_SCOPE,
} from '../baseline-constants.js';
import { startServer } from '../lib/load.js';
import { authorizationCodeFlow } from '../lib/oauth.js';

const script = fileURLToPath(new URL('../baseline-server.js', import.meta.url));
const CLIENT_ID = 'bench-client';
const CLIENT_SECRET = 'bench-client-secret-0123456789abcdef0123456789abcdef';

export default {
  name: 'baseline',
  description: `bare oidc-provider, in-memory adapter (${script.split('/').slice(-2).join('/')})`,
  available: () => true,
  /**
   * @param {{ jwksFile: string, cpu?: number, port?: number, nodeArgs?: string[] }} options
   */
  async start({
    jwksFile, cpu, port = 0, nodeArgs = [],
  }) {
    const server = await startServer({
      name: 'baseline',
      args: [...nodeArgs, script, '--port', String(port), '--jwks', jwksFile],
      env: { BENCH_CLIENT_ID: CLIENT_ID, BENCH_CLIENT_SECRET: CLIENT_SECRET, NODE_ENV: 'production' },
      cpu,
    });
    const instance = {
      url: `http://127.0.0.1:${server.port}`,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      jwtResource: API_RESOURCE,
      opaqueResource: OPAQUE_RESOURCE,
      resourceScope: RESOURCE_SCOPE,
      introspectionPath: '/token/introspection',
      jwtIntrospectionPath: JWT_INTROSPECTION_PATH,
      notes: {
        jwtIntrospection: 'oidc-provider refuses JWT introspection; the baseline figure is a minimal '
          + 'shim (client auth + ES256 verify, no denylist) at ' + JWT_INTROSPECTION_PATH,
      },
      refreshParams: { resource: API_RESOURCE },
      obtainRefreshToken: async () => {
        const tokens = await authorizationCodeFlow(instance, {
          redirectUri: REDIRECT_URI,
          scope: `openid offline_access ${RESOURCE_SCOPE}`,
          resource: API_RESOURCE,
          prompt: 'consent',
        });
        if (!tokens.refresh_token) throw new Error('baseline issued no refresh token');
        return tokens.refresh_token;
      },
      // Same round trip as on Tessera: a new session every time, prompt=consent; the
      // scripted interactions log `bench-user` in without a password and grant the scopes.
      authorizationCodeRoundTrip: async () => {
        const tokens = await authorizationCodeFlow(instance, {
          redirectUri: REDIRECT_URI,
          scope: `openid ${RESOURCE_SCOPE}`,
          resource: API_RESOURCE,
          prompt: 'consent',
        });
        if (!tokens.access_token || !tokens.id_token) throw new Error('baseline: no access or ID token');
        return tokens;
      },
      processes: () => [{ name: 'baseline', pid: server.pid }],
      pid: server.pid,
      pinned: server.pinned,
      stop: () => server.stop(),
      log: server.log,
    };
    return instance;
  },
};
