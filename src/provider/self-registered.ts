import { isClientIdUrl } from '../clients/index.ts';

/** A client nobody registered by hand: it registered itself (dynamic registration) or is known by its client ID metadata document. */
export const isSelfRegistered = (client: { clientId: string }) =>
  (client as { dynamically_registered?: unknown }).dynamically_registered === true || isClientIdUrl(client.clientId);
