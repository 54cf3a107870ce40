/**
 * Routing-key matching as RabbitMQ does it, for the embedded broker.
 *
 * - direct: the binding key equals the routing key.
 * - fanout: every binding matches.
 * - topic: keys are words separated by '.'; in a binding key `*` matches exactly one word
 *   and `#` matches zero or more words. An empty routing key has zero words (so `#`
 *   matches it and `*` does not); the behaviour suite checks this against RabbitMQ.
 *
 * `compileTopic(pattern)` returns a matcher; compiled matchers are cached per pattern. A
 * matcher takes the routing key and, optionally, its words (`topicWords(routingKey)`):
 * a publish matched against many bindings splits its key once, not once per binding.
 */

export type TopicMatcher = (routingKey: string, words?: readonly string[]) => boolean;

function matchWords(pattern: readonly string[], pi: number, key: readonly string[], ki: number): boolean {
  while (pi < pattern.length) {
    const p = pattern[pi];
    if (p === '#') {
      // Collapse consecutive '#'.
      while (pi + 1 < pattern.length && pattern[pi + 1] === '#') pi++;
      if (pi + 1 === pattern.length) return true;
      for (let k = ki; k <= key.length; k++) {
        if (matchWords(pattern, pi + 1, key, k)) return true;
      }
      return false;
    }
    if (ki >= key.length) return false;
    if (p !== '*' && p !== key[ki]) return false;
    pi++;
    ki++;
  }
  return ki === key.length;
}

/** The words of a routing key, for matchers. */
export function topicWords(key: string): string[] {
  return key === '' ? [] : key.split('.');
}

const cache = new Map<string, TopicMatcher>();

export function compileTopic(pattern: string): TopicMatcher {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let matcher: TopicMatcher;
  if (!pattern.includes('*') && !pattern.includes('#')) {
    matcher = (rk) => rk === pattern;
  } else if (pattern === '#') {
    matcher = () => true;
  } else {
    const pwords = topicWords(pattern);
    matcher = (rk, words) => matchWords(pwords, 0, words ?? topicWords(rk), 0);
  }
  if (cache.size > 10_000) cache.clear();
  cache.set(pattern, matcher);
  return matcher;
}

export function matchTopic(pattern: string, routingKey: string): boolean {
  return compileTopic(pattern)(routingKey);
}
