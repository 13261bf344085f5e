// Minimal OAuth client helpers used to prepare benchmark inputs (tokens to introspect,
// refresh tokens to rotate). Nothing here runs inside a measured window.
import { createHash, randomBytes } from 'node:crypto';

export function basicAuthorization(clientId, clientSecret) {
  // RFC 6749 §2.3.1: form-urlencode both parts before base64.
  const enc = (v) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
}

export function form(params) {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null) body.set(k, String(v));
  }
  return body.toString();
}

/** POST a form to the token endpoint; returns the parsed JSON or throws with the body. */
export async function tokenRequest(instance, params) {
  const res = await fetch(new URL(instance.tokenPath ?? '/token', instance.url), {
    method: 'POST',
    headers: {
      authorization: basicAuthorization(instance.clientId, instance.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: form(params),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`token endpoint ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

export async function clientCredentialsToken(instance, { resource, scope }) {
  const { access_token: token } = await tokenRequest(instance, {
    grant_type: 'client_credentials',
    resource,
    scope,
  });
  return token;
}

/** A tiny cookie jar: enough for one authorization code flow against one origin. */
export class CookieJar {
  #cookies = new Map();

  store(response) {
    for (const line of response.headers.getSetCookie?.() ?? []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v = ''] = a.trim().split('=');
        return (k.toLowerCase() === 'max-age' && Number(v) <= 0)
          || (k.toLowerCase() === 'expires' && Date.parse(v) <= Date.now());
      });
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /**
   * A copy: flows running at the same time must not share one jar (the jar ignores cookie
   * paths, so one flow's interaction cookies would replace another's); a copy of a signed-in
   * jar carries the session over (single sign-on) and keeps its own interaction cookies.
   */
  clone() {
    const copy = new CookieJar();
    for (const [k, v] of this.#cookies) copy.#cookies.set(k, v);
    return copy;
  }
}

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/**
 * Authorization code + PKCE flow over plain HTTP, following redirects by hand with a cookie
 * jar until the server redirects to `redirectUri`. `onInteraction(url, jar)` is called for
 * any 200 page on the way (a login or consent form) and must return the next URL to GET or a
 * Response to continue from; the baseline never shows a page (its interaction handler
 * finishes at once), a Tessera target supplies a hook that submits its forms.
 * Pass the same `jar` to several flows to reuse the login session (single sign-on).
 * Returns the token endpoint response of the code exchange.
 */
export async function authorizationCodeFlow(instance, {
  redirectUri,
  scope,
  resource,
  prompt,
  extraParams = {},
  onInteraction,
  jar = new CookieJar(),
  maxSteps = 20,
}) {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(12).toString('base64url');
  const authorize = new URL(instance.authorizationPath ?? '/auth', instance.url);
  const params = {
    client_id: instance.clientId,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope,
    resource,
    prompt,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extraParams,
  };
  for (const [k, v] of Object.entries(params)) if (v !== undefined) authorize.searchParams.set(k, v);

  let next = authorize.href;
  let response;
  for (let step = 0; step < maxSteps; step += 1) {
    if (!response) {
      response = await fetch(next, { redirect: 'manual', headers: { cookie: jar.header() } });
    }
    jar.store(response);
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.arrayBuffer();
      const target = new URL(location, next);
      if (target.href.startsWith(redirectUri)) {
        if (target.searchParams.get('error')) {
          throw new Error(`authorization error: ${target.searchParams.get('error')} ${target.searchParams.get('error_description') ?? ''}`);
        }
        if (target.searchParams.get('state') !== state) throw new Error('state mismatch');
        const code = target.searchParams.get('code');
        return tokenRequest(instance, {
          grant_type: 'authorization_code',
          code,
          redirect_uri: redirectUri,
          code_verifier: verifier,
          resource,
        });
      }
      next = target.href;
      response = undefined;
      continue;
    }
    if (response.status === 200 && onInteraction) {
      const result = await onInteraction({ url: next, response, jar, instance });
      if (result instanceof Response) {
        response = result;
      } else {
        next = String(result);
        response = undefined;
      }
      continue;
    }
    const body = await response.text();
    throw new Error(`authorization flow stuck at ${next}: ${response.status} ${body.slice(0, 300)}`);
  }
  throw new Error(`authorization flow did not finish in ${maxSteps} steps`);
}

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'", apos: "'" };
const decodeEntities = (s) => s.replace(/&(amp|lt|gt|quot|#39|#x27|apos);/g, (_, e) => ENTITIES[e]);
const attr = (tag, name) => {
  const m = new RegExp(`\\b${name}\\s*=\\s*("([^"]*)"|'([^']*)')`, 'i').exec(tag);
  return m ? decodeEntities(m[2] ?? m[3]) : undefined;
};

/** The POST forms of an HTML page: action, hidden/text inputs, button texts. */
export function parseForms(html) {
  const forms = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const fields = {};
    const inputs = [];
    for (const im of m[2].matchAll(/<input\b[^>]*>/gi)) {
      const name = attr(im[0], 'name');
      const type = (attr(im[0], 'type') ?? 'text').toLowerCase();
      inputs.push({ name, type });
      if (name && type !== 'submit') fields[name] = attr(im[0], 'value') ?? '';
    }
    const buttons = [...m[2].matchAll(/<button\b[^>]*>([\s\S]*?)<\/button>/gi)]
      .map((b) => b[1].replace(/<[^>]+>/g, '').trim());
    forms.push({
      method: (attr(m[1], 'method') ?? 'get').toLowerCase(),
      action: attr(m[1], 'action'),
      fields,
      inputs,
      buttons,
    });
  }
  return forms;
}

/**
 * An `onInteraction` hook for servers with HTML login and consent pages (Tessera): on a
 * page with a password field it fills `username`/`password`, otherwise it presses the
 * button named `allow` (default "Allow"); hidden fields such as a CSRF token go along.
 */
export function submitInteractionForms({ username, password, allow = 'Allow' }) {
  return async ({ url, response, jar }) => {
    const page = await response.text();
    const forms = parseForms(page).filter((f) => f.method === 'post');
    const login = forms.find((f) => f.inputs.some((i) => i.type === 'password'));
    const chosen = login ?? forms.find((f) => f.buttons.includes(allow));
    if (!chosen) throw new Error(`no login or "${allow}" form at ${url}: ${page.slice(0, 300)}`);
    const fields = { ...chosen.fields };
    if (login) {
      const userField = login.inputs.find((i) => i.type === 'text' || i.type === 'email')?.name ?? 'username';
      const passField = login.inputs.find((i) => i.type === 'password').name;
      fields[userField] = username;
      fields[passField] = password;
    }
    const target = new URL(chosen.action ?? url, url).href;
    return fetch(target, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: jar.header() },
      body: form(fields),
    });
  };
}
