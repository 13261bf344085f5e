import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Router from '@koa/router';

/**
 * The static files Tessera's pages load, from a fixed list: a path names a
 * file of views/assets only if it is listed here (no file system lookup from a
 * request). Read once when the router is made. Today one script: passkeys in
 * the browser (CSP `script-src 'self'`).
 */
const ASSETS: Readonly<Record<string, { file: string; type: string }>> = Object.freeze({
  '/assets/passkeys.js': { file: 'passkeys.js', type: 'text/javascript; charset=utf-8' },
});

export function createAssetRouter(): Router {
  const router = new Router();
  for (const [path, { file, type }] of Object.entries(ASSETS)) {
    const body = readFileSync(new URL(`../../views/assets/${file}`, import.meta.url));
    const etag = `"${createHash('sha256').update(body).digest('base64url')}"`;
    router.get(path, (ctx) => {
      // revalidated on each use (an upgrade changes the file under the same name), answered 304 when unchanged
      ctx.set('Cache-Control', 'no-cache');
      ctx.set('ETag', etag);
      ctx.set('X-Content-Type-Options', 'nosniff');
      if (ctx.get('If-None-Match') === etag) {
        ctx.status = 304;
        return;
      }
      ctx.type = type;
      ctx.body = body;
    });
  }
  return router;
}
