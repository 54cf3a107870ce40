/**
 * The embedded broker's topic routing (bindings indexed by their last word) delivers a
 * message to exactly the queues whose bindings match it (matchTopic, the behaviour suite's
 * rules), once each, whatever the bindings, unbindings and queue deletions before it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../src/bus/embedded-broker.ts';
import { matchTopic } from '../../src/bus/topic-match.ts';

const word = fc.constantFrom('call', 'a', 'b', 'c1', 'c2', '');
const patternWord = fc.oneof(word, fc.constantFrom('*', '#'));
const pattern = fc.array(patternWord, { maxLength: 4 }).map((ws) => ws.join('.'));
const key = fc.array(word, { maxLength: 4 }).map((ws) => ws.join('.'));
const QUEUES = ['q0', 'q1', 'q2', 'q3'];
const op = fc.oneof(
  fc.record({ op: fc.constant('bind' as const), q: fc.constantFrom(...QUEUES), rk: pattern }),
  fc.record({ op: fc.constant('unbind' as const), q: fc.constantFrom(...QUEUES), rk: pattern }),
  fc.record({ op: fc.constant('drop' as const), q: fc.constantFrom(...QUEUES) }),
  fc.record({ op: fc.constant('publish' as const), rk: key }),
);

describe('embedded broker, topic exchange', () => {
  it('routes each message to exactly the queues with a matching binding, once', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const broker = new EmbeddedBroker();
        const conn = broker.connect({ consumerCancelled: () => undefined, dropped: () => undefined });
        broker.assertExchange(conn, { name: 'x', type: 'topic' });
        const model = new Map<string, Set<string>>(QUEUES.map((q) => [q, new Set()]));
        const declare = (q: string): void => broker.assertQueue(conn, q, {});
        QUEUES.forEach(declare);
        for (const o of ops) {
          if (o.op === 'bind') {
            broker.bindQueue(conn, o.q, 'x', o.rk);
            model.get(o.q)!.add(o.rk);
          } else if (o.op === 'unbind') {
            broker.unbindQueue(conn, o.q, 'x', o.rk);
            model.get(o.q)!.delete(o.rk);
          } else if (o.op === 'drop') {
            broker.deleteQueue(conn, o.q);
            declare(o.q);
            model.get(o.q)!.clear();
          } else {
            const want = QUEUES.filter((q) => [...model.get(q)!].some((p) => matchTopic(p, o.rk)));
            const before = QUEUES.map((q) => broker.checkQueue(conn, q).messageCount);
            const n = broker.publish(conn, 'x', o.rk, Buffer.from('{}'), {});
            const got = QUEUES.filter((q, i) => broker.checkQueue(conn, q).messageCount === before[i]! + 1);
            expect({ rk: o.rk, got, n }).toEqual({ rk: o.rk, got: want, n: want.length });
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
