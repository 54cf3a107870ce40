/**
 * Issue 9, item 14 on the embedded bus: from the registrar's start, 2,000 authn_req for 20
 * users in bursts of 200 (each user's look-ups overlapping), and every one answered
 * exactly once, with its own Msg-ID and its own user's credentials. The same check on
 * RabbitMQ, and end to end through Kamailio, is in authn-answers.rabbitmq.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../apps/registrar/support.ts';
import { authnBurst, burstProblems } from './authn-burst.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('authn answers from the registrar start (embedded bus)', () => {
  it('every query of a burst over 20 users is answered once, with its own Msg-ID and credentials', async () => {
    h = await startHarness();
    const r = await authnBurst(h, { users: 20, perUser: 100, burst: 200 });
    expect(burstProblems(r).slice(0, 20)).toEqual([]);
    expect(r.sent.size).toBe(2000);
    expect(h.lines.filter((l) => (l.level as number) >= 40).map((l) => l.msg)).toEqual([]);
  });
});
