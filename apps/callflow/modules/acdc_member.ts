/**
 * cf_acdc_member: puts the caller in an ACDC queue (apps/acdc) and waits for an agent.
 * Data: `id` (the queue document's id, required), `priority` (Member-Priority).
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
 *   the caller), plays the hold media, and waits:
 *   member_call_success or a CHANNEL_BRIDGE of the call: `usurped` (the agent's leg is
 *   bridged by ecallmgr; the flow lets go of the call); member_call_fail: cancel (Reason
 *   the failure, `timeout` becoming `member_timeout`), hold media stopped, the `_` child;
 *   the wait running out: cancel `member_timeout`, the `_` child; the caller pressing the
 *   exit key (kazoo #6745): cancel `member_exit`, the `_` child; the caller hanging up:
 *   cancel `member_hangup` (the queue drops the caller, no agent is rung for it).
 * - The result queue is deleted whatever the outcome.
 */
import { build, destination, memberCallResultKey, type Envelope } from '../../../src/api/index.ts';
import { encodeJson, jsonProperties } from '../../../src/bus/index.ts';
import { acdcSharedQueue, memberCallPriority } from '../../../src/api/index.ts';
import { HangupError, type CallHandle } from '../call.ts';
import { firstProblem, next, num, optNumber, reqString, type CfModule } from './module.ts';
import { mediaPath } from './media.ts';

const DEFAULT_MOH = 'local_stream://default';

async function publish(call: CallHandle, id: string, fields: Record<string, unknown>): Promise<void> {
  const msg = build(id, fields, call.buildCtx);
  const d = destination(id, msg);
  const priority = memberCallPriority(msg);
  await call.bus.publish(
    d.exchange,
    d.routingKey,
    encodeJson(msg),
    jsonProperties(priority === undefined ? undefined : { priority }),
  );
}

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
  const bus = call.bus;
  const q = await bus.assertQueue('', { exclusive: true, autoDelete: true });
  let tag: string | undefined;
  try {
    let answered: (n: number) => void = () => undefined;
    const answer = new Promise<number>((resolve) => (answered = resolve));
    const req = build(
      'queue_agents_available_req',
      { 'Account-ID': call.info.accountId, 'Queue-ID': queueId, 'Server-ID': q },
      call.buildCtx,
    );
    await bus.bindQueue(q, 'targeted', q); // answers come by queue name (Server-ID)
    tag = await bus.consume(q, (d) => {
      const m = JSON.parse(d.body.toString()) as Envelope;
      if (m['Event-Name'] === 'agents_available_resp' && m['Msg-ID'] === req['Msg-ID'])
        answered(Number(m['Agent-Count']));
    });
    const d = destination('queue_agents_available_req', req);
    await bus.publish(d.exchange, d.routingKey, encodeJson(req), jsonProperties());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const none = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), AVAILABLE_WAIT_MS);
    });
    const n = await Promise.race([answer, none]);
    clearTimeout(timer);
    return n;
  } finally {
    if (tag !== undefined) await bus.cancel(tag).catch(() => undefined);
    await bus.deleteQueue(q).catch(() => undefined);
  }
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
    const bus = call.bus;
    const q = await bus.assertQueue('', { exclusive: true, autoDelete: true });
    let tag: string | undefined;
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
      const priority = typeof data.priority === 'number' ? { 'Member-Priority': data.priority } : {};
      await publish(call, 'member_call', {
        'Account-ID': accountId,
        'Queue-ID': queueId,
        Call: {
          'Call-ID': call.callId,
          'Account-ID': accountId,
          'Caller-ID-Number': call.info.callerIdNumber,
          'Caller-ID-Name': call.info.callerIdName,
        },
        ...priority,
      });
      call.log.info({ queue_id: queueId, max_wait_ms: maxWaitMs }, 'acdc_member: waiting for an agent');
      const moh = typeof doc.moh === 'string' && doc.moh !== '' ? mediaPath(doc.moh, accountId) : DEFAULT_MOH;
      let outcome: Outcome;
      try {
        await call.send('play', { 'Media-Name': moh });
        const key = exitKey(doc);
        const isExit = (m: Record<string, unknown>) =>
          key !== undefined && m['Event-Name'] === 'DTMF' && m['DTMF-Digit'] === key;
        const bridged = call
          .nextEvent((m) => m['Event-Name'] === 'CHANNEL_BRIDGE' || isExit(m), maxWaitMs)
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
      await call.send('playstop');
      return next();
    } finally {
      if (tag !== undefined) await bus.cancel(tag).catch(() => undefined);
      await bus
        .deleteQueue(q)
        .catch((err: unknown) => call.log.warn({ err }, 'acdc_member: result queue not deleted'));
    }
  },
};
