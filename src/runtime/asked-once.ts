/**
 * Questions cratebox asks a program (cargo metadata, rustc) that cli/early.ts starts while the
 * rest of the CLI loads and the run asks again: one answer per environment object and key,
 * however often it is asked.
 */
export function askedOnce<T>(): (env: NodeJS.ProcessEnv, key: unknown, ask: () => Promise<T>) => Promise<T> {
  const answers = new WeakMap<NodeJS.ProcessEnv, Map<string, Promise<T>>>();
  return (env, key, ask) => {
    const byKey = answers.get(env) ?? new Map<string, Promise<T>>();
    answers.set(env, byKey);
    const k = JSON.stringify(key);
    const answer = byKey.get(k) ?? ask();
    byKey.set(k, answer);
    return answer;
  };
}
