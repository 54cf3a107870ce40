/**
 * cf_acdc_member: puts the caller in an ACDC queue (apps/acdc) and waits for an agent.
 * Data: `id` (the queue document's id, required), `priority` (Member-Priority).
 * Member-Priority (Kazoo's lookup_priority): the flow's `priority` when an integer, else the
 * call's custom channel variable `Call-Priority` (channel variable `ecallmgr_Call-Priority`)
 * when it is an integer, else none. Higher is served first.
 *
 * Contract (Kazoo 4.3 cf_acdc_member)
 * - Reads the queue document (`pvt_type` queue): `connection_timeout` (s; < 1: no limit;
 *   default 3600), `max_queue_size` (0: no limit), `moh` (hold media; default
 *   `local_stream://default`), `caller_exit_key` (one DTMF digit, default `#`; empty: none).
 *   Not a queue document: `error`.
 * - A full queue (callers waiting in the queue's shared queue >= max_queue_size): the `_`
 *   child at once, nothing published. `enter_when_empty` false (Kazoo's default is true):
 *   the queue's managers are asked how many agents are logged in
 *   (queue_agents_available_req); none (or no answer within 2 s, warn line): the `_` child.
 * - Otherwise: answers, listens for the queue's results for this call
 *   (`acdc.member.call_result.<account>.<queue>.<call-id>`), publishes member_call (Call:
 *   the caller), plays the hold media (with the queue's `announcements` on, the caller's
 *   position and the estimated wait are announced at once and every `interval` between
 *   the hold media: acdc-announcements.ts), and waits:
 *   member_call_success or a CHANNEL_BRIDGE of the call: `usurped` (the agent's leg is
 *   bridged by ecallmgr; the flow lets go of the call); member_call_fail: cancel (Reason
 *   the failure, `timeout` becoming `member_timeout`), hold media stopped (a `noop` with
 *   Insert-At flush: the music is stopped whether it plays or still waits in ecallmgr's
 *   queue), the `_` child;
 *   the wait running out: cancel `member_timeout`, the `_` child; the caller pressing the
 *   exit key (kazoo #6745): cancel `member_exit`, the `_` child; the caller hanging up:
 *   cancel `member_hangup` (the queue drops the caller, no agent is rung for it).
 * - The result queue is deleted whatever the outcome, and every wait on the call's events
 *   (and the announcements) ends before the module returns: none takes an event meant for
 *   the next module.
 */
import { memberCallResultKey, type Envelope } from '../../../src/api/index.ts';
import { acdcSharedQueue } from '../../../src/api/index.ts';
import { HangupError, type CallHandle } from '../call.ts';
import { firstProblem, next, num, optNumber, reqString, type CfModule, type Data } from './module.ts';
import { mediaPath } from './media.ts';
import { askQueue, publishAcdc as publish } from './acdc-ask.ts';
import { announce, announcementsOf } from './acdc-announcements.ts';

const DEFAULT_MOH = 'local_stream://default';

/** Callers waiting in the queue's shared queue, not yet taken by a worker (0 when it is not there). */
async function waiting(call: CallHandle, queueId: string): Promise<number> {
  try {
    return (await call.bus.checkQueue(acdcSharedQueue(call.info.accountId, queueId))).messageCount;
  } catch (err) {
    call.log.warn({ err, queue_id: queueId }, 'acdc_member: queue size unknown; counted as 0');
    return 0;
  }
}

/**
 * How many agents are logged in to the queue, asked of its managers
 * (queue_agents_available_req); undefined when none answered within AVAILABLE_WAIT_MS.
 */
async function loggedInAgents(call: CallHandle, queueId: string): Promise<number | undefined> {
  const m = await askQueue(
    call,
    'queue_agents_available_req',
    { 'Account-ID': call.info.accountId, 'Queue-ID': queueId },
    'agents_available_resp',
    AVAILABLE_WAIT_MS,
  );
  return m === undefined ? undefined : Number(m['Agent-Count']);
}

/**
 * The caller's Member-Priority (Kazoo's lookup_priority): the flow's `priority` when it
 * is an integer, else the call's custom channel variable `Call-Priority` when it is one.
 */
export function callPriority(data: Data, call: CallHandle): number | undefined {
  if (typeof data.priority === 'number' && Number.isInteger(data.priority)) return data.priority;
  const v = call.info.customChannelVars?.['Call-Priority'];
  const n = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : typeof v === 'number' ? v : NaN;
  return Number.isInteger(n) ? n : undefined;
}

const AVAILABLE_WAIT_MS = 2000;

type Outcome =
  { kind: 'success' } | { kind: 'fail'; reason: string } | { kind: 'timeout' } | { kind: 'exit' };

/** The queue's exit key: one DTMF digit (Kazoo's queue default `#`), or none when empty. */
function exitKey(doc: Record<string, unknown>): string | undefined {
  const k = doc.caller_exit_key ?? '#';
  return typeof k === 'string' && /^[0-9*#A-D]$/.test(k) ? k : undefined;
}

export const acdcMember: CfModule = {
  name: 'acdc_member',
  check: (d) => firstProblem(reqString(d, 'id'), optNumber(d, 'priority')),
  async run(data, call) {
    const queueId = String(data.id);
    const doc = await call.doc(queueId);
    if (doc.pvt_type !== 'queue')
      return {
        kind: 'error',
        reason: `document ${queueId} is not a queue (pvt_type ${String(doc.pvt_type)})`,
      };
    const timeoutS = num(doc.connection_timeout, 3600);
    const maxWaitMs = timeoutS < 1 ? Infinity : timeoutS * 1000;
    const maxSize = Math.max(0, Math.floor(num(doc.max_queue_size, 0)));
    if (maxSize > 0) {
      const size = await waiting(call, queueId);
      if (size >= maxSize) {
        call.log.info({ queue_id: queueId, size, max: maxSize }, 'acdc_member: queue full; next node');
        return next();
      }
    }
    if (doc.enter_when_empty === false) {
      const agents = await loggedInAgents(call, queueId);
      if (agents === undefined)
        call.log.warn({ queue_id: queueId }, 'acdc_member: no queue manager answered; taken as empty');
      if ((agents ?? 0) === 0) {
        call.log.info({ queue_id: queueId }, 'acdc_member: no agent logged in; next node');
        return next();
      }
    }
    const accountId = call.info.accountId;
    const base = { 'Account-ID': accountId, 'Queue-ID': queueId, 'Call-ID': call.callId };
    const cancel = (reason: string) => publish(call, 'member_call_cancel', { ...base, Reason: reason });
    await call.exec('answer');
    // While the caller waits, ecallmgr knows the call is the queue's (its workers on every
    // node can serve it): a dead node's callers are not routed again (queued twice).
    const queued = (id: string) =>
      call.send('set', { 'Custom-Channel-Vars': { 'Queue-ID': id }, 'Custom-Call-Vars': {} });
    await queued(queueId);
    const bus = call.bus;
    const q = await bus.assertQueue('', { exclusive: true, autoDelete: true });
    let tag: string | undefined;
    // Every wait below takes `stop`: aborted when the module ends, so none outlives it.
    const stop = new AbortController();
    let announcing: Promise<void> | undefined;
    try {
      let onResult: (o: Outcome) => void = () => undefined;
      const result = new Promise<Outcome>((resolve) => (onResult = resolve));
      await bus.bindQueue(q, 'callmgr', memberCallResultKey(accountId, queueId, call.callId));
      tag = await bus.consume(q, (d) => {
        const m = JSON.parse(d.body.toString()) as Envelope;
        if (m['Call-ID'] !== call.callId || m['Queue-ID'] !== queueId) return;
        if (m['Event-Name'] === 'call_success') onResult({ kind: 'success' });
        else if (m['Event-Name'] === 'call_fail')
          onResult({ kind: 'fail', reason: String(m['Failure-Reason'] ?? 'unknown') });
      });
      const priority = callPriority(data, call);
      await publish(call, 'member_call', {
        'Account-ID': accountId,
        'Queue-ID': queueId,
        Call: {
          'Call-ID': call.callId,
          'Account-ID': accountId,
          'Caller-ID-Number': call.info.callerIdNumber,
          'Caller-ID-Name': call.info.callerIdName,
        },
        ...(priority === undefined ? {} : { 'Member-Priority': priority }),
      });
      call.log.info(
        { queue_id: queueId, max_wait_ms: maxWaitMs, priority },
        'acdc_member: waiting for an agent',
      );
      const moh = typeof doc.moh === 'string' && doc.moh !== '' ? mediaPath(doc.moh, accountId) : DEFAULT_MOH;
      const announcements = announcementsOf(doc, accountId);
      let outcome: Outcome;
      try {
        if (announcements === undefined) await call.send('play', { 'Media-Name': moh });
        else announcing = announce(call, announcements, queueId, moh, stop.signal);
        const key = exitKey(doc);
        const isExit = (m: Record<string, unknown>) =>
          key !== undefined && m['Event-Name'] === 'DTMF' && m['DTMF-Digit'] === key;
        const bridged = call
          .nextEvent((m) => m['Event-Name'] === 'CHANNEL_BRIDGE' || isExit(m), maxWaitMs, stop.signal)
          .then((m): Outcome => {
            if (m === 'timeout') return { kind: 'timeout' };
            if (!isExit(m)) return { kind: 'success' };
            call.log.info({ queue_id: queueId, key }, 'acdc_member: caller pressed the exit key');
            return { kind: 'exit' };
          });
        outcome = await Promise.race([bridged, result]);
      } catch (err) {
        if (err instanceof HangupError) {
          call.log.info({ queue_id: queueId }, 'acdc_member: the caller hung up while waiting; cancelled');
          await cancel('member_hangup');
        }
        throw err;
      }
      stop.abort();
      await announcing;
      if (outcome.kind === 'success') {
        call.log.info({ queue_id: queueId }, 'acdc_member: an agent took the call');
        return { kind: 'usurped' };
      }
      const reason =
        outcome.kind === 'exit'
          ? 'member_exit'
          : outcome.kind === 'timeout' || outcome.reason === 'timeout'
            ? 'member_timeout'
            : outcome.reason;
      call.log.info({ queue_id: queueId, reason }, 'acdc_member: not answered by the queue; next node');
      await cancel(reason);
      // The hold media may still be queued behind the `set` above (the wait can end before
      // ecallmgr ran it): a flush drops it there and breaks it on the switch; a playstop
      // would break only what already plays, and the music queued would then hold the call.
      await call.send('noop', { 'Insert-At': 'flush' });
      await queued('');
      return next();
    } finally {
      stop.abort();
      await announcing;
      if (tag !== undefined) await bus.cancel(tag).catch(() => undefined);
      await bus
        .deleteQueue(q)
        .catch((err: unknown) => call.log.warn({ err }, 'acdc_member: result queue not deleted'));
    }
  },
};
