/**
 * cf_ring_group: rings a set of endpoints. Data: `endpoints` (required list of
 * `{id, endpoint_type: device | user | group, timeout?, delay?}`; a group document's
 * `endpoints` object `{id: {type: device | user}}` is expanded), `strategy`
 * (`simultaneous`, default, or `single`), `timeout` (seconds, default 20), `repeats`
 * (how many times the whole ring is tried, default 1). Each device is rung once per try
 * even when reached several ways. Outcome as cf_device.
 */
import { firstProblem, next, num, optNumber, STOP, type CfModule, type Data } from './module.ts';
import { bridge, deviceEndpoint, failureBranch, typedDoc, userDevices, type Endpoint } from './endpoints.ts';
import { checkStrategy } from './user.ts';
import type { CallHandle } from '../call.ts';

const TYPES = new Set(['device', 'user', 'group']);

function checkEndpoints(v: unknown): string | undefined {
  if (!Array.isArray(v) || v.length === 0) return 'endpoints is required (a non-empty list)';
  for (const [i, e] of v.entries()) {
    if (typeof e !== 'object' || e === null) return `endpoints[${i}] must be an object`;
    const o = e as Record<string, unknown>;
    if (typeof o.id !== 'string' || o.id === '') return `endpoints[${i}].id is required`;
    if (o.endpoint_type !== undefined && !TYPES.has(String(o.endpoint_type)))
      return `endpoints[${i}].endpoint_type must be device, user or group`;
  }
  return undefined;
}

async function devicesOf(
  call: CallHandle,
  id: string,
  type: string,
): Promise<Array<Record<string, unknown>>> {
  if (type === 'user') return userDevices(call, id);
  if (type === 'device') return [await typedDoc(call, id, 'device')];
  const group = await typedDoc(call, id, 'group');
  const members = typeof group.endpoints === 'object' && group.endpoints !== null ? group.endpoints : {};
  const out: Array<Record<string, unknown>> = [];
  for (const [mid, m] of Object.entries(members as Record<string, { type?: unknown }>))
    if (m?.type === 'user' || m?.type === 'device') out.push(...(await devicesOf(call, mid, m.type)));
  return out;
}

async function endpointsOf(call: CallHandle, data: Data, timeoutS: number): Promise<Endpoint[]> {
  const seen = new Set<unknown>();
  const eps: Endpoint[] = [];
  for (const e of data.endpoints as Array<Record<string, unknown>>) {
    const type = typeof e.endpoint_type === 'string' ? e.endpoint_type : 'device';
    for (const d of await devicesOf(call, String(e.id), type)) {
      if (seen.has(d._id)) continue;
      seen.add(d._id);
      const ep = deviceEndpoint(call, d, { timeoutS: num(e.timeout, timeoutS), delayS: num(e.delay, 0) });
      if (ep !== undefined) eps.push(ep);
    }
  }
  return eps;
}

export const ringGroup: CfModule = {
  name: 'ring_group',
  check: (d) =>
    firstProblem(
      checkEndpoints(d.endpoints),
      optNumber(d, 'timeout'),
      optNumber(d, 'repeats'),
      checkStrategy(d.strategy),
    ),
  async run(data, call, children) {
    const timeoutS = num(data.timeout, 20);
    const eps = await endpointsOf(call, data, timeoutS);
    const strategy = data.strategy === 'single' ? 'single' : 'simultaneous';
    const repeats = Math.max(1, num(data.repeats, 1));
    let r = await bridge(call, eps, { timeoutS, strategy });
    for (let i = 1; i < repeats && !r.ok; i++) r = await bridge(call, eps, { timeoutS, strategy });
    if (r.ok) return STOP;
    call.log.info({ cause: r.cause, code: r.code, endpoints: eps.length }, 'ring_group: bridge failed');
    return next(failureBranch(children, r));
  },
};
