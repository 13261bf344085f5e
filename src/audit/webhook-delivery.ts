import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { readFileSync } from 'node:fs';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import type { WebhooksConfig } from '../config/index.ts';
import type { Logger } from '../observability/index.ts';
import { hostOf, refusedAddress, type DestinationPolicy } from './webhook-destinations.ts';
import { signatureHeader } from './webhook-signing.ts';
import type { ClaimedDelivery, WebhookRepository } from './webhooks.ts';

/*
 * The delivery worker: outside every request path. Sign-ins and token
 * requests only add rows to the outbox (in the audit event's transaction);
 * this loop, on its own timer, claims due rows and sends them, so a slow or
 * dead receiver costs it time and nothing else.
 *
 * At least once: a delivery counts as delivered only on a 2xx answer; any
 * other answer, an error or a timeout is retried with exponential backoff
 * (and jitter, so many failed deliveries do not come back at the same
 * moment) until maxAttempts, then it is `failed` (an admin may redeliver it).
 * Redirects are not followed (a 3xx is a failed attempt): a receiver cannot
 * send Tessera on to somewhere else. Response bodies are never read.
 */

/** The thin payload: which event, of what type, when, and whom it concerns — no details. */
export function payloadOf(event: ClaimedDelivery['event']): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    time: event.at.toISOString(),
    subject: event.subject,
    client_id: event.clientId,
    actor: event.actor,
  });
}

/** Equal jitter: half the backoff fixed, half random; never beyond `maxMs`. */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const backoff = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(backoff / 2 + (random() * backoff) / 2);
}

class RefusedDestination extends Error {}

/**
 * Resolves the host, refuses it unless every address it resolves to is
 * allowed, and hands the connection the checked address (DNS rebinding
 * reaches nothing else).
 */
function checkedLookup(policy: DestinationPolicy, scheme: 'http:' | 'https:'): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family as number | undefined }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const refused = addresses.map((a) => refusedAddress(a.address, policy, scheme)).find(Boolean);
      if (refused || !addresses.length) return callback(new RefusedDestination(`destination refused: ${refused ?? 'no address'}`), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };
}

interface Attempt { statusCode?: number; error?: string }

export interface DeliveryWorkerDeps {
  repository: WebhookRepository;
  config: WebhooksConfig;
  logger: Logger;
}

export type DeliveryWorker = ReturnType<typeof createDeliveryWorker>;

export function createDeliveryWorker({ repository, config, logger }: DeliveryWorkerDeps) {
  const policy: DestinationPolicy = config;
  // read once, at start: a missing file is a configuration error, told at once
  const ca = config.caFile ? [...rootCertificates, readFileSync(config.caFile, 'utf8')] : undefined;
  // the lease outlives the attempt: another instance never takes a delivery still being sent
  const leaseMs = config.timeoutMs + 30_000;
  const inFlight = new Map<string, ClientRequest>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let again = false;
  let lastClaimError = 0;

  /** One POST; resolves with the status code or an error summary (never the response body). */
  function post(delivery: ClaimedDelivery): Promise<Attempt> {
    // unsigned, nothing is sent: the receiver would refuse it, and rightly
    if (delivery.secret === undefined) return Promise.resolve({ error: 'the signing secret does not open with this instance\'s KEYS_DIR/webhook-key.json' });
    const secret = delivery.secret;
    const url = new URL(delivery.url);
    const scheme = url.protocol as 'http:' | 'https:';
    const host = hostOf(url);
    if (isIP(host)) {
      const refused = refusedAddress(host, policy, scheme);
      if (refused) return Promise.resolve({ error: `destination refused: ${refused}` });
    }
    const body = payloadOf(delivery.event);
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'user-agent': 'Tessera-Webhooks/1',
      'tessera-event-id': delivery.event.id,
      'tessera-signature': signatureHeader(secret, body, Math.floor(Date.now() / 1000)),
    };
    return new Promise((resolve) => {
      let settled = false;
      const finish = (attempt: Attempt) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        inFlight.delete(delivery.id);
        req.destroy();
        resolve(attempt);
      };
      const send = scheme === 'https:' ? httpsRequest : httpRequest;
      const req = send(url, {
        method: 'POST', headers, agent: false, lookup: checkedLookup(policy, scheme),
        ...(scheme === 'https:' && ca ? { ca } : {}),
      }, (res) => {
        // the status is the answer; the body is not wanted (nor stored)
        res.destroy();
        finish({ statusCode: res.statusCode });
      });
      // one deadline for the whole attempt: connect, TLS, and the receiver's answer
      const deadline = setTimeout(() => finish({ error: `no answer within ${config.timeoutMs} ms` }), config.timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => {
        finish({ error: error instanceof RefusedDestination ? error.message : (error.code ?? error.message) });
      });
      inFlight.set(delivery.id, req);
      req.end(body);
    });
  }

  async function deliver(delivery: ClaimedDelivery): Promise<void> {
    const attempt = await post(delivery);
    const target = new URL(delivery.url).origin;
    if (stopped && attempt.statusCode === undefined) {
      // cut short by shutdown: due again at once, at the next start or at another instance
      await repository.release(delivery.id);
      return;
    }
    if (attempt.statusCode !== undefined && attempt.statusCode >= 200 && attempt.statusCode < 300) {
      await repository.markDelivered(delivery.id, attempt.statusCode);
      logger.debug({ delivery: delivery.id, subscription: delivery.subscriptionId, event: delivery.event.id, target, attempts: delivery.attempts }, 'webhook delivered');
      return;
    }
    const error = attempt.error ?? `HTTP ${attempt.statusCode}`;
    const retryAt = delivery.attempts < config.maxAttempts
      ? new Date(Date.now() + retryDelay(delivery.attempts, config.retryBaseMs, config.retryMaxMs))
      : undefined;
    await repository.markAttemptFailed(delivery.id, { statusCode: attempt.statusCode, error, retryAt });
    // where (the origin only: a query string may carry the receiver's own token), never the secret
    logger.warn({ delivery: delivery.id, subscription: delivery.subscriptionId, event: delivery.event.id, target, attempts: delivery.attempts, error, retryAt },
      retryAt ? 'webhook delivery failed; will retry' : 'webhook delivery failed; giving up');
  }

  /** Claims and sends due deliveries until none is left (or the worker stops). */
  async function drain(): Promise<void> {
    while (!stopped) {
      let claimed: ClaimedDelivery[];
      try {
        claimed = await repository.claimDue(config.batchSize, leaseMs);
      } catch (error) {
        // the database is away: try again at the next tick, and say so at most once a minute
        if (Date.now() - lastClaimError > 60_000) {
          lastClaimError = Date.now();
          logger.warn({ err: (error as Error).message }, 'webhook delivery: cannot read the outbox');
        }
        return;
      }
      await Promise.all(claimed.map((delivery) => deliver(delivery).catch((error) => {
        logger.warn({ delivery: delivery.id, err: (error as Error).message }, 'webhook delivery: cannot record the outcome');
      })));
      if (claimed.length < config.batchSize && !again) return;
      again = false;
    }
  }

  function schedule(delayMs: number) {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(tick, delayMs);
    timer.unref();
  }

  function tick() {
    if (stopped) return;
    if (running) { again = true; return; }
    running = drain().finally(() => {
      running = undefined;
      schedule(again ? 0 : config.pollIntervalMs);
      again = false;
    });
  }

  return {
    start(): void {
      if (!stopped) return;
      stopped = false;
      schedule(0);
    },
    /** Something was queued in this process: look now rather than at the next tick. */
    nudge(): void {
      if (!stopped) schedule(0);
    },
    /** Stops claiming; attempts in flight are cut short and released, so they are due again at the next start. */
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      for (const req of inFlight.values()) req.destroy(new Error('shutting down'));
      await running;
    },
  };
}
