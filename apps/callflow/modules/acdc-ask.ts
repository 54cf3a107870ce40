/**
 * Asking an ACDC queue's managers (apps/acdc/manager.ts) from a call's module, and
 * publishing the queue messages acdc_member sends.
 *
 * Contract
 * - `askQueue(call, id, fields, answer, waitMs)` publishes the request `id` (fields plus
 *   Server-ID, an exclusive queue of its own bound on `targeted`) and resolves with the
 *   first message named `answer` that carries the request's Msg-ID, or undefined when
 *   none came within `waitMs` (or the signal aborted). The queue, its consumer and the
 *   timer are gone when it resolves.
 * - `publishAcdc(call, id, fields)` builds and publishes a catalogue message, member_call
 *   with its Member-Priority as the AMQP priority.
 */
import { build, destination, memberCallPriority, type Envelope } from '../../../src/api/index.ts';
import { encodeJson, jsonProperties } from '../../../src/bus/index.ts';
import type { CallHandle } from '../call.ts';

export async function publishAcdc(
  call: CallHandle,
  id: string,
  fields: Record<string, unknown>,
): Promise<void> {
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

export async function askQueue(
  call: CallHandle,
  id: string,
  fields: Record<string, unknown>,
  answer: string,
  waitMs: number,
  signal?: AbortSignal,
): Promise<Envelope | undefined> {
  const bus = call.bus;
  const q = await bus.assertQueue('', { exclusive: true, autoDelete: true });
  let tag: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let done: (m: Envelope | undefined) => void = () => undefined;
  const onAbort = () => done(undefined);
  try {
    const answered = new Promise<Envelope | undefined>((resolve) => (done = resolve));
    const req = build(id, { ...fields, 'Server-ID': q }, call.buildCtx);
    await bus.bindQueue(q, 'targeted', q); // answers come by queue name (Server-ID)
    tag = await bus.consume(q, (d) => {
      const m = JSON.parse(d.body.toString()) as Envelope;
      if (m['Event-Name'] === answer && m['Msg-ID'] === req['Msg-ID']) done(m);
    });
    const d = destination(id, req);
    await bus.publish(d.exchange, d.routingKey, encodeJson(req), jsonProperties());
    timer = setTimeout(() => done(undefined), waitMs);
    if (signal?.aborted === true) return undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    return await answered;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    if (tag !== undefined) await bus.cancel(tag).catch(() => undefined);
    await bus.deleteQueue(q).catch(() => undefined);
  }
}
