/**
 * A minimal "browser" for driving the HTML pages with fetch: a cookie jar
 * (path-scoped, expiry-aware), manual redirects, and a form parser for the
 * server's own simple markup.
 */

interface StoredCookie { name: string; value: string; path: string; expires?: number }

export class CookieJar {
  readonly #cookies = new Map<string, StoredCookie>();

  /** Stores every Set-Cookie of a response to a request for `url`. */
  store(url: string, response: Response): void {
    const requestPath = new URL(url).pathname;
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: StoredCookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        // RFC 6265 default-path: the request path up to its last "/"
        path: requestPath.slice(0, Math.max(1, requestPath.lastIndexOf('/'))),
      };
      for (const attribute of attributes) {
        const [rawKey, ...rest] = attribute.split('=');
        const key = rawKey.trim().toLowerCase();
        const value = rest.join('=').trim();
        if (key === 'path' && value.startsWith('/')) cookie.path = value;
        if (key === 'max-age') cookie.expires = Date.now() + Number(value) * 1000;
        if (key === 'expires' && cookie.expires === undefined) cookie.expires = Date.parse(value);
      }
      const id = `${cookie.name}\0${cookie.path}`;
      if (cookie.expires !== undefined && cookie.expires <= Date.now()) this.#cookies.delete(id);
      else this.#cookies.set(id, cookie);
    }
  }

  /** The Cookie header for a request to `url` (longest path first, as browsers send them). */
  header(url: string): string {
    const path = new URL(url).pathname;
    return this.#live()
      .filter((c) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  /** Value of a cookie by name (any path). */
  get(name: string): string | undefined {
    return this.#live().find((c) => c.name === name)?.value;
  }

  values(): string[] {
    return this.#live().map((c) => c.value);
  }

  /**
   * A copy: a signed-in jar's copy carries the session over (single sign-on)
   * and keeps its own interaction cookies from then on, so flows running at
   * the same time (bench/) do not replace each other's.
   */
  clone(): CookieJar {
    const copy = new CookieJar();
    for (const [id, cookie] of this.#cookies) copy.#cookies.set(id, { ...cookie });
    return copy;
  }

  #live(): StoredCookie[] {
    const now = Date.now();
    return [...this.#cookies.values()].filter((c) => c.expires === undefined || c.expires > now);
  }
}

export interface PageResponse {
  url: string;
  status: number;
  headers: Headers;
  text: string;
}

export class BrowserAgent {
  readonly jar: CookieJar;

  constructor(jar = new CookieJar()) {
    this.jar = jar;
  }

  /** One request, no redirect following, cookies sent and stored. */
  async request(url: string, init: RequestInit = {}): Promise<PageResponse> {
    const headers = new Headers(init.headers);
    const cookie = this.jar.header(url);
    if (cookie) headers.set('cookie', cookie);
    if (!headers.has('accept')) headers.set('accept', 'text/html,application/xhtml+xml');
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.jar.store(url, response);
    return { url, status: response.status, headers: response.headers, text: await response.text() };
  }

  /**
   * Requests `url` and follows redirects (GET) until a response that is not a
   * redirect, or a redirect to a location for which `stopAt` is true; that
   * location is not requested and is returned as `stoppedAt`.
   */
  async follow(url: string, init: RequestInit = {}, stopAt: (location: string) => boolean = () => false):
    Promise<{ response: PageResponse; stoppedAt?: string }> {
    let response = await this.request(url, init);
    for (let hops = 0; hops < 20; hops++) {
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || !location) return { response };
      const next = new URL(location, response.url).href;
      if (stopAt(next)) return { response, stoppedAt: next };
      response = await this.request(next);
    }
    throw new Error(`too many redirects from ${url}`);
  }

  /** Submits a parsed form (POST, urlencoded) with extra field values. */
  submit(page: PageResponse, form: HtmlForm, values: Record<string, string> = {}, stopAt?: (location: string) => boolean) {
    const action = new URL(form.action || page.url, page.url).href;
    const body = new URLSearchParams({ ...form.fields, ...values });
    return this.follow(action, {
      method: form.method.toUpperCase(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    }, stopAt);
  }
}

// ---- HTML forms ----

export interface HtmlForm {
  action: string;
  method: string;
  /** name → value of every named input (hidden ones included) */
  fields: Record<string, string>;
  /** the visible text of its submit buttons */
  buttons: string[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

export function decodeEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[entity.toLowerCase()] ?? whole;
  });
}

function attributesOf(tag: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const match of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    attributes[match[1].toLowerCase()] = decodeEntities(match[2] ?? match[3] ?? match[4] ?? '');
  }
  return attributes;
}

export function parseForms(html: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attributes = attributesOf(match[1]);
    const fields: Record<string, string> = {};
    for (const input of match[2].matchAll(/<input\b([^>]*)>/gi)) {
      const a = attributesOf(input[1]);
      if (a.name) fields[a.name] = a.value ?? '';
    }
    const buttons = [...match[2].matchAll(/<button\b[^>]*>([\s\S]*?)<\/button>/gi)]
      .map((b) => decodeEntities(b[1].replace(/<[^>]+>/g, '')).trim());
    forms.push({ action: attributes.action ?? '', method: attributes.method ?? 'get', fields, buttons });
  }
  return forms;
}

/** The form holding a submit button with this text (throws when there is none). */
export function formWithButton(html: string, buttonText: string): HtmlForm {
  const form = parseForms(html).find((f) => f.buttons.includes(buttonText));
  if (!form) throw new Error(`no form with a "${buttonText}" button in:\n${html.slice(0, 2000)}`);
  return form;
}

/** Text of the page's <h1>, for recognising which page was served. */
export function headingOf(html: string): string | undefined {
  const match = /<h1\b[^>]*>([\s\S]*?)<\/h1>/i.exec(html);
  return match ? decodeEntities(match[1].replace(/<[^>]+>/g, '')).trim() : undefined;
}
