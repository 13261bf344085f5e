/**
 * Where dynamic client registration is served (src/registration, Tessera's
 * own endpoint) and advertised in discovery. Here, not in src/registration,
 * because that folder builds on the provider's client validation: the
 * provider may not import it back.
 */
export const REGISTRATION_PATH = '/reg';
