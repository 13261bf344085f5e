import type { ServerResponse } from 'node:http';
import { InputRefused, sendRefusal, type RefusalStyle } from './input-limits.ts';

/** 405 with the methods the path does take (RFC 9110 §15.5.6 requires Allow). */
export function methodNotAllowed(res: ServerResponse, allowed: Iterable<string>, style: RefusalStyle, requestId?: string): void {
  const allow = [...new Set(allowed)].join(', ');
  res.setHeader('Allow', allow);
  sendRefusal(res, new InputRefused(405, `this method is not allowed here; allowed: ${allow}`), style, requestId);
}
