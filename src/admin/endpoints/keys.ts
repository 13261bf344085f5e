import {
  activateSigningKeys, longestSignedTokenTtl, retireSigningKeys, SigningKeyFileError, stageSigningKeys, type RotationResult,
} from '../../keys/index.ts';
import { AdminProblem, reply, type AdminInput, type AdminRoute, type AdminRouterDeps } from '../define.ts';
import { object, type JsonSchema } from '../schemas/common.ts';

const rotateSchema: JsonSchema = {
  title: 'RotateKeys',
  ...object({ stage: { type: 'boolean', const: true, description: 'step 1 (the default): new keys as "next"' } }),
};
const activateSchema: JsonSchema = { title: 'ActivateKeys', ...object({}) };
const retireSchema: JsonSchema = {
  title: 'RetireKeys',
  ...object({ force: { type: 'boolean', description: 'every previous key now, whether or not its tokens have expired (for a key that must not be trusted any more)' } }),
};

const rotationSchema: JsonSchema = {
  title: 'KeyRotation',
  type: 'object',
  properties: {
    step: { type: 'string', enum: ['stage', 'activate', 'retire'] },
    changed: { type: 'array', items: { type: 'object' }, description: 'the keys this step changed' },
    keys: { type: 'array', items: { type: 'object' }, description: 'every key in KEYS_DIR afterwards' },
    restart_required: { type: 'boolean', description: 'every instance must restart with the same KEYS_DIR files for the step to take effect' },
    next: { type: 'string' },
  },
};

const NEXT_STEP = {
  stage: 'restart every instance (with the same KEYS_DIR files) so that all publish and accept the new keys; then POST /keys/activate',
  activate: 'restart every instance (with the same KEYS_DIR files): each signs with the new keys once restarted; once the previous keys\' retire_after has passed, POST /keys/retire',
  retire: 'restart every instance (with the same KEYS_DIR files) to stop publishing and accepting the retired keys',
} as const;

/**
 * The signing keys: the list this instance loaded (never their private
 * parts), and the staged rotation of `tessera keys rotate|retire`, working on
 * this instance's KEYS_DIR as the CLI does. Every instance loads its keys at
 * start, so each step takes effect once the instances restart with the same
 * files (the answer says so); an instance that has its own copy of KEYS_DIR
 * needs the new file copied to it first.
 */
export function keyRoutes(deps: AdminRouterDeps): AdminRoute[] {
  const { keysDir, ttl } = deps.config;
  const tag = 'keys';
  const responses = { 200: { description: 'the step done, the keys afterwards and what to do next', schema: rotationSchema }, 409: { description: 'the step does not apply now (e.g. no keys staged, or keys already staged)' } };

  async function step(actor: string, name: keyof typeof NEXT_STEP, run: () => Promise<RotationResult> | RotationResult, details: Record<string, unknown> = {}) {
    let result: RotationResult;
    try {
      result = await run();
    } catch (error) {
      if (error instanceof SigningKeyFileError) throw new AdminProblem(409, 'Conflict', error.message);
      throw error;
    }
    await deps.services.audit.record({ type: 'keys.rotated', actor, details: { step: name, ...details, kids: result.changed.map((k) => k.kid) } });
    return { step: name, changed: result.changed, keys: result.keys, restart_required: result.changed.length > 0, next: NEXT_STEP[name] };
  }

  return [
    {
      method: 'get', path: '/keys', tag, summary: 'The signing keys: kid, kty, alg, use, status (next, current, previous)',
      responses: { 200: { description: 'the keys: current first, then next (published, not signing), then previous (accepted until retire_after)' } },
      async handle(ctx) {
        reply(ctx, 200, { items: deps.keys.signingKeyList });
      },
    },
    {
      method: 'post', path: '/keys/rotate', tag, summary: 'Step 1 of a key rotation: new signing keys in KEYS_DIR as "next"',
      body: rotateSchema, responses,
      async handle(ctx, { actor }: AdminInput) {
        reply(ctx, 200, await step(actor, 'stage', () => stageSigningKeys(keysDir)));
      },
    },
    {
      method: 'post', path: '/keys/activate', tag, summary: 'Step 2: the staged keys sign (after every instance restarted with step 1)',
      body: activateSchema, responses,
      async handle(ctx, { actor }: AdminInput) {
        reply(ctx, 200, await step(actor, 'activate', () => activateSigningKeys(keysDir, { retentionSeconds: longestSignedTokenTtl(ttl) })));
      },
    },
    {
      method: 'post', path: '/keys/retire', tag, summary: 'Step 3: remove the previous keys whose tokens have expired (all of them with force)',
      body: retireSchema, responses,
      async handle(ctx, { body, actor }: AdminInput<{ force?: boolean }>) {
        reply(ctx, 200, await step(actor, 'retire', () => retireSigningKeys(keysDir, { force: body.force }), { force: !!body.force }));
      },
    },
  ];
}
