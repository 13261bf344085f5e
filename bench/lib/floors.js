// Floors: the raw cost of the cryptography every token or login pays, measured without any
// HTTP or protocol around it. They bound what any server on the same core can reach
// (client_credentials cannot beat the ES256 signing rate; a password login cannot beat the
// argon2id verification rate), so server figures are also reported as a share of them.
//
//   node bench/lib/floors.js [--seconds 3] [--only name,name] [--jwks FILE]
// prints one JSON object on stdout. Pin it like the server: `taskset -c 0 node ...`.
import { spawn } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import argon2 from 'argon2';
import { SignJWT, jwtVerify } from 'jose';

import { ensureBenchJwks, generateBenchJwks } from './keys.js';
import { tasksetAvailable } from './load.js';

// OWASP's argon2id recommendation, Tessera's default.
export const ARGON2_PARAMS = { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };

/**
 * Calls `op()` back to back for `seconds`, keeping `concurrency` calls in flight.
 * Returns operations per second (completed operations / elapsed wall time).
 */
export async function measureRate(op, { seconds = 3, concurrency = 1 } = {}) {
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  let done = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      await op();
      done += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - start) / 1000;
  return {
    opsPerSecond: Math.round((done / elapsed) * 10) / 10,
    operations: done,
    seconds: Math.round(elapsed * 100) / 100,
    concurrency,
  };
}

function keyObjects(jwks, alg) {
  const jwk = jwks.keys.find((k) => k.alg === alg);
  if (!jwk) throw new Error(`no ${alg} key in the bench JWKS`);
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  return { kid: jwk.kid, privateKey, publicKey: createPublicKey(privateKey) };
}

// Shaped like oidc-provider's JWT access tokens (RFC 9068): fresh jti for each token.
function accessTokenClaims() {
  const now = Math.floor(Date.now() / 1000);
  return {
    jti: randomBytes(32).toString('base64url'),
    sub: 'bench-client',
    iat: now,
    exp: now + 3600,
    scope: 'read write',
    client_id: 'bench-client',
    iss: 'http://127.0.0.1:3000',
    aud: 'https://api.bench.test',
  };
}

function signer(jwks, alg, typ) {
  const { kid, privateKey } = keyObjects(jwks, alg);
  return () => new SignJWT(accessTokenClaims())
    .setProtectedHeader({ alg, typ, kid })
    .sign(privateKey);
}

export async function jwtSignFloor({ jwks, alg = 'ES256', seconds, concurrency = 1 }) {
  const sign = signer(jwks, alg, alg === 'ES256' ? 'at+jwt' : 'JWT');
  await sign();
  return measureRate(sign, { seconds, concurrency });
}

export async function jwtVerifyFloor({ jwks, alg = 'ES256', seconds, concurrency = 1 }) {
  const { publicKey } = keyObjects(jwks, alg);
  const token = await signer(jwks, alg, 'at+jwt')();
  const verify = () => jwtVerify(token, publicKey, { typ: 'at+jwt', algorithms: [alg] });
  await verify();
  return measureRate(verify, { seconds, concurrency });
}

export async function argon2VerifyFloor({ seconds, concurrency = 1 }) {
  const password = 'correct horse battery staple';
  const hash = await argon2.hash(password, ARGON2_PARAMS);
  const verify = async () => {
    if (!(await argon2.verify(hash, password))) throw new Error('argon2 verify failed');
  };
  await verify();
  return measureRate(verify, { seconds, concurrency });
}

export const FLOORS = {
  es256_sign: (o) => jwtSignFloor({ ...o, alg: 'ES256', concurrency: 1 }),
  es256_sign_c8: (o) => jwtSignFloor({ ...o, alg: 'ES256', concurrency: 8 }),
  es256_verify: (o) => jwtVerifyFloor({ ...o, alg: 'ES256', concurrency: 1 }),
  rs256_sign: (o) => jwtSignFloor({ ...o, alg: 'RS256', concurrency: 1 }),
  argon2id_verify: (o) => argon2VerifyFloor({ ...o, concurrency: 1 }),
  argon2id_verify_c4: (o) => argon2VerifyFloor({ ...o, concurrency: 4 }),
};

export const FLOOR_DESCRIPTIONS = {
  es256_sign: 'jose ES256 sign of an at+jwt access token, one at a time',
  es256_sign_c8: 'jose ES256 sign, 8 in flight',
  es256_verify: 'jose ES256 verify of an at+jwt access token, one at a time',
  rs256_sign: 'jose RS256 (2048-bit) sign of an ID-token-sized JWT, one at a time',
  argon2id_verify: 'argon2id verify m=19456 KiB t=2 p=1, one at a time',
  argon2id_verify_c4: 'argon2id verify, 4 in flight (libuv pool of 4 threads)',
};

export async function runFloors({ jwks, seconds = 3, only = Object.keys(FLOORS) } = {}) {
  const results = {};
  for (const name of only) {
    if (!FLOORS[name]) throw new Error(`unknown floor ${name}`);
    results[name] = { ...(await FLOORS[name]({ jwks, seconds })), description: FLOOR_DESCRIPTIONS[name] };
  }
  return results;
}

/**
 * Runs floors in a child process, pinned to `cpus` (a taskset list such as "0" or "0-1")
 * when taskset exists, so the measurement sees the same CPU set the server gets.
 */
export function runFloorsInChild({ cpus, seconds = 3, only, jwksFile, nodePath = process.execPath }) {
  const script = fileURLToPath(import.meta.url);
  const args = [script, '--seconds', String(seconds)];
  if (only) args.push('--only', only.join(','));
  if (jwksFile) args.push('--jwks', jwksFile);
  const taskset = cpus !== undefined ? tasksetAvailable() : null;
  const [cmd, argv] = taskset ? [taskset, ['-c', String(cpus), nodePath, ...args]] : [nodePath, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`floors exited with ${code}: ${err.slice(-500)}`));
      try {
        const parsed = JSON.parse(out);
        parsed.pinnedTo = taskset ? String(cpus) : null;
        return resolve(parsed);
      } catch (e) {
        return reject(new Error(`floors output unreadable: ${e.message}: ${out.slice(0, 200)}`));
      }
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '3' },
      only: { type: 'string' },
      jwks: { type: 'string' },
    },
  });
  const jwks = values.jwks ? await ensureBenchJwks(values.jwks) : await generateBenchJwks();
  const floors = await runFloors({
    jwks,
    seconds: Number(values.seconds),
    only: values.only ? values.only.split(',') : undefined,
  });
  process.stdout.write(`${JSON.stringify({
    floors,
    cpusVisible: availableParallelism(),
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
  })}\n`);
}
