/**
 * The registrar's part of issue 9 item 14 on any broker: from the moment the registrar has
 * started, bursts of authn_req for a few users, each user asked many times at once (so
 * look-ups of the same credentials overlap), each with its own Msg-ID. `authnBurst(h)`
 * answers, per Msg-ID sent, the answers that came back (to the requester's own queue on
 * `targeted`, as Kamailio's), so a test can check that every query got exactly one answer
 * carrying its Msg-ID and its own user's credentials.
 */
import { randomUUID } from 'node:crypto';
import { authnReqKey } from '../../src/api/index.ts';
import { jsonProperties, type Envelope } from '../../src/bus/index.ts';
import { addAccount, addDevice } from '../../apps/registrar/provisioning.ts';
import { authnReq, type Harness } from '../apps/registrar/support.ts';

export const BURST_REALM = 'burst.robust.fife.test';

export interface BurstResult {
  sent: Map<string, string>;
  answers: Map<string, Envelope[]>;
  passwords: Map<string, string>;
}

export async function authnBurst(
  h: Harness,
  opts: { users: number; perUser: number; burst: number },
): Promise<BurstResult> {
  await addAccount(h.store, { name: 'Burst', realm: BURST_REALM });
  const passwords = new Map<string, string>();
  for (let i = 0; i < opts.users; i++) {
    passwords.set(`user${i}`, `pw-${i}-${randomUUID().slice(0, 8)}`);
    await addDevice(h.store, {
      realm: BURST_REALM,
      username: `user${i}`,
      password: passwords.get(`user${i}`),
    });
  }
  const replyQueue = await h.bus.assertQueue('', { exclusive: true, autoDelete: true });
  await h.bus.bindQueue(replyQueue, 'targeted', replyQueue);
  const answers = new Map<string, Envelope[]>();
  const total = opts.users * opts.perUser;
  let got = 0;
  let allIn: () => void = () => undefined;
  const done = new Promise<void>((r) => (allIn = r));
  await h.bus.consume(
    replyQueue,
    (d) => {
      const m = JSON.parse(d.body.toString()) as Envelope;
      const id = String(m['Msg-ID']);
      const list = answers.get(id) ?? [];
      list.push(m);
      answers.set(id, list);
      if (++got >= total) allIn();
    },
    { noAck: true },
  );

  await h.startRegistrar();
  const sent = new Map<string, string>();
  for (let i = 0; i < total;) {
    for (const end = Math.min(total, i + opts.burst); i < end; i++) {
      const user = `user${i % opts.users}`;
      const msgId = randomUUID();
      sent.set(msgId, user);
      const m = { ...authnReq(user, BURST_REALM), 'Msg-ID': msgId, 'Server-ID': replyQueue };
      await h.bus.publish('callmgr', authnReqKey(BURST_REALM), JSON.stringify(m), jsonProperties());
    }
    await new Promise((r) => setImmediate(r));
  }
  // every answer, or (one missing) until the answers stop coming
  let last = -1;
  while (got < total && got !== last) {
    last = got;
    await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  }
  return { sent, answers, passwords };
}

/** What went wrong, one line per query: none answered, several, or someone else's answer. */
export function burstProblems(r: BurstResult): string[] {
  const out: string[] = [];
  for (const [msgId, user] of r.sent) {
    const a = r.answers.get(msgId) ?? [];
    if (a.length !== 1) out.push(`${msgId} (${user}): ${a.length} answers`);
    else if (
      a[0]!['Event-Name'] !== 'authn_resp' ||
      a[0]!['Auth-Username'] !== user ||
      a[0]!['Auth-Password'] !== r.passwords.get(user)
    )
      out.push(
        `${msgId} (${user}): answered ${String(a[0]!['Event-Name'])} for ${String(a[0]!['Auth-Username'])}`,
      );
  }
  for (const id of r.answers.keys()) if (!r.sent.has(id)) out.push(`${id}: an answer to no query`);
  return out;
}
