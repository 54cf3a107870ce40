/**
 * Topic routing-key matching (src/bus/topic-match.ts): a table of RabbitMQ's documented
 * cases, and a property check against a straightforward dynamic-programming reference.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileTopic, matchTopic, topicWords } from '../../src/bus/topic-match.ts';

function reference(pattern: string, key: string): boolean {
  const p = pattern === '' ? [] : pattern.split('.');
  const k = key === '' ? [] : key.split('.');
  // ok[i][j]: p[i..] matches k[j..]
  const ok: boolean[][] = Array.from({ length: p.length + 1 }, () =>
    Array<boolean>(k.length + 1).fill(false),
  );
  ok[p.length][k.length] = true;
  for (let i = p.length - 1; i >= 0; i--) {
    for (let j = k.length; j >= 0; j--) {
      if (p[i] === '#') ok[i][j] = ok[i + 1][j] || (j < k.length && ok[i][j + 1]);
      else ok[i][j] = j < k.length && (p[i] === '*' || p[i] === k[j]) && ok[i + 1][j + 1];
    }
  }
  return ok[0][0];
}

describe('matchTopic', () => {
  it.each([
    ['call.*.abc', 'call.CHANNEL_ANSWER.abc', true],
    ['call.*.abc', 'call.a.b.abc', false],
    ['call.#', 'call', true],
    ['call.#', 'call.a.b.c', true],
    ['call.#', 'callx.a', false],
    ['#.abc', 'abc', true],
    ['#.abc', 'x.y.abc', true],
    ['a.#.z', 'a.z', true],
    ['a.#.z', 'a.b.c.z', true],
    ['a.#.z', 'a.b.c', false],
    ['#', '', true],
    ['*', '', false],
    ['*', 'one', true],
    ['*.*', 'one', false],
    ['#.#', 'a.b', true],
    ['authn.req.*', 'authn.req.sip%2Eexample%2Ecom', true],
    ['registration.success.*.*', 'registration.success.realm.user', true],
    ['registration.success.*.*', 'registration.success.realm', false],
  ])('%s vs %s -> %s', (pattern, key, expected) => {
    expect(matchTopic(pattern, key)).toBe(expected);
    expect(reference(pattern, key)).toBe(expected);
  });

  it('agrees with the reference on random patterns and keys', () => {
    const word = fc.constantFrom('a', 'b', 'c');
    const pword = fc.constantFrom('a', 'b', '*', '#');
    fc.assert(
      fc.property(fc.array(pword, { maxLength: 5 }), fc.array(word, { maxLength: 6 }), (p, k) => {
        const pattern = p.join('.');
        const key = k.join('.');
        expect(matchTopic(pattern, key)).toBe(reference(pattern, key));
        // the key's words split once by the broker (one publish, many bindings): same answer
        expect(compileTopic(pattern)(key, topicWords(key))).toBe(reference(pattern, key));
      }),
      { numRuns: 2000 },
    );
  });
});
