import { errors, type Adapter } from 'oidc-provider';
import type { AdapterFactory } from './types.ts';

/**
 * A store's adapter factory: one adapter per model, made on first use and
 * kept (oidc-provider asks once per model, Tessera's revocation on every call).
 */
export function onePerModel(create: (model: string) => Adapter): AdapterFactory {
  const adapters = new Map<string, Adapter>();
  return (model) => {
    let adapter = adapters.get(model);
    if (!adapter) adapters.set(model, (adapter = create(model)));
    return adapter;
  };
}

/** What consume() throws when it found no unconsumed record: oidc-provider answers invalid_grant. */
export function consumeRefused(found: boolean): InstanceType<typeof errors.InvalidGrant> {
  return new errors.InvalidGrant(found ? 'grant already consumed' : 'grant not found');
}
