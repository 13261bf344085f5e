import { describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { NODE_BIN } from '../support/process.ts';
import { createAccessLog, createLogger } from '../../src/observability/index.ts';

/** Runs a script that logs through createLogger's own stdout destination; returns stdout by arrival time. */
function runLoggingScript(body: string): Promise<{ chunks: Array<{ at: number; text: string }>; code: number | null }> {
  const script = `import { createLogger } from ${JSON.stringify(new URL('../../src/observability/index.ts', import.meta.url).pathname)};\n`
    + `const logger = createLogger({ level: 'info' });\n${body}`;
  const child = spawn(NODE_BIN, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const started = Date.now();
  const chunks: Array<{ at: number; text: string }> = [];
  child.stdout.on('data', (data: Buffer) => { chunks.push({ at: Date.now() - started, text: data.toString() }); });
  return new Promise((resolve) => { child.on('close', (code) => resolve({ chunks, code })); });
}

const linesOf = (chunks: Array<{ text: string }>) => chunks.map((c) => c.text).join('').split('\n').filter(Boolean);

describe('log lines', () => {
  test('carry an ISO-8601 UTC time that matches the clock', () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => { lines.push(line); } } });
    const before = Date.now();
    logger.info('one');
    const after = Date.now();
    const { time } = JSON.parse(lines[0]) as { time: string };
    expect(time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const at = Date.parse(time);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(after);
  });

  test('written to stdout in batches reach it within half a second while the process idles', async () => {
    const { chunks, code } = await runLoggingScript("logger.info({ n: 1 }, 'first'); setTimeout(() => {}, 1500);");
    expect(code).toBe(0);
    expect(linesOf(chunks).map((l) => JSON.parse(l).msg)).toEqual(['first']);
    expect(chunks[0].at).toBeLessThan(1300); // the process lives 1.5 s; the line left long before
  });

  test('none is lost when the process exits at once or crashes', async () => {
    const exiting = await runLoggingScript("for (let i = 0; i < 1000; i++) logger.info({ i }, 'line'); process.exit(3);");
    expect(exiting.code).toBe(3);
    expect(linesOf(exiting.chunks)).toHaveLength(1000);
    const crashing = await runLoggingScript("for (let i = 0; i < 50; i++) logger.info({ i }, 'line'); throw new Error('crash');");
    expect(crashing.code).toBe(1);
    expect(linesOf(crashing.chunks)).toHaveLength(50);
  });
});

describe('access-log lines', () => {
  const capture = (level: string) => {
    const lines: string[] = [];
    const logger = createLogger({ level, destination: { write: (line: string) => { lines.push(line); } } });
    return { logger, lines };
  };

  test('are the line pino itself writes for the same fields, awkward paths included', () => {
    const { logger, lines } = capture('info');
    const accessLog = createAccessLog(logger);
    for (const path of ['/token', '/a"b\\c', '/caf\u00e9/\u2028/\u0001']) {
      const entry = { requestId: 'req-12345678', method: 'POST', path, status: 201, ms: 1.25 };
      accessLog(entry);
      logger.child({}, { redact: [] }).info(entry, 'request');
    }
    expect(lines).toHaveLength(6);
    for (let i = 0; i < lines.length; i += 2) {
      expect(lines[i].endsWith('\n')).toBe(true);
      const ours = JSON.parse(lines[i]) as Record<string, unknown>;
      const pinos = JSON.parse(lines[i + 1]) as Record<string, unknown>;
      expect(Object.keys(ours)).toEqual(Object.keys(pinos));
      expect({ ...ours, time: undefined }).toEqual({ ...pinos, time: undefined });
    }
  });

  test('follow the logger level', () => {
    const { logger, lines } = capture('warn');
    createAccessLog(logger)({ requestId: 'req-12345678', method: 'GET', path: '/', status: 200, ms: 0.5 });
    expect(lines).toHaveLength(0);
  });
});
