import { createServer, type Server } from 'node:http';

/** The client's side in browser tests: a tiny server that answers its redirect_uri with a page. */
export async function startRedirectTarget(): Promise<{ server: Server; redirectUri: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!DOCTYPE html><title>Callback</title><h1>Signed in</h1>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, redirectUri: `http://127.0.0.1:${port}/callback` };
}
