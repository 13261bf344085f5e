/**
 * Calls of `run` for a key that is already running share that run's promise.
 * oidc-provider revokes a grant by calling revokeByGrantId on every grantable
 * model at once; the grant's JWTs need denylisting only once.
 */
export function coalesceByKey(run: (key: string) => Promise<void>): (key: string) => Promise<void> {
  const running = new Map<string, Promise<void>>();
  return (key) => {
    let pending = running.get(key);
    if (!pending) {
      pending = run(key).finally(() => running.delete(key));
      running.set(key, pending);
    }
    return pending;
  };
}
