/**
 * Whether an identifier from a request could be stored at all. Postgres
 * refuses NUL in text: an id holding one (from the claims of a client
 * assertion or an id_token_hint, which no input limit sees) names nothing,
 * rather than failing the query with a server error.
 */
export const storableId = (id: string): boolean => typeof id === 'string' && !id.includes('\u0000');
