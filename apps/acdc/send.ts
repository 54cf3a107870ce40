/**
 * Publishing an ACDC catalogue message: build (validate, whitelist), route, publish.
 *
 * Contract
 * - `acdcSend(env, id, fields, queue?)` builds `id` with the app's BuildContext and
 *   publishes it where the catalogue routes it (`queue`: the Server-ID of a targeted
 *   answer). It rejects with the build or bus error; callers log it with the call-id.
 * - A member_call goes with the AMQP priority of its Member-Priority (`memberCallPriority`),
 *   so the queue's shared queue (declared with x-max-priority) hands out higher first.
 */
import {
  build,
  destination,
  memberCallPriority,
  type BuildContext,
  type Envelope,
} from '../../src/api/index.ts';
import { encodeJson, jsonProperties, type BusTransport } from '../../src/bus/index.ts';

export interface AcdcEnv {
  readonly bus: BusTransport;
  readonly ctx: BuildContext;
  readonly accountId: string;
}

export async function acdcSend(
  env: AcdcEnv,
  id: string,
  fields: Record<string, unknown>,
  queue?: string,
): Promise<Envelope> {
  const msg = build(id, fields, env.ctx);
  const d = destination(id, msg, queue);
  const priority = id === 'member_call' ? memberCallPriority(msg) : undefined;
  await env.bus.publish(
    d.exchange,
    d.routingKey,
    encodeJson(msg),
    jsonProperties({
      ...(Object.keys(d.headers).length > 0 ? { headers: d.headers } : {}),
      ...(priority === undefined ? {} : { priority }),
    }),
  );
  return msg;
}
