/**
 * cf_user: rings every device the user owns (attributes/owned). Data: `id` (user
 * document, required), `timeout` (seconds, default 20), `delay`, `strategy`
 * (`simultaneous`, the default, or `single`: one device after the other). Outcome as
 * cf_device: bridged ends the flow, a failure takes the cause / SIP code / `_` child.
 */
import { firstProblem, next, num, optNumber, reqString, STOP, type CfModule } from './module.ts';
import { bridge, deviceEndpoint, failureBranch, userDevices, type Endpoint } from './endpoints.ts';

export const STRATEGIES = ['simultaneous', 'single'] as const;
export const checkStrategy = (v: unknown): string | undefined =>
  v === undefined || STRATEGIES.includes(v as 'single')
    ? undefined
    : `strategy must be one of ${STRATEGIES.join(', ')}`;

export const user: CfModule = {
  name: 'user',
  check: (d) =>
    firstProblem(
      reqString(d, 'id'),
      optNumber(d, 'timeout'),
      optNumber(d, 'delay'),
      checkStrategy(d.strategy),
    ),
  async run(data, call, children) {
    const timeoutS = num(data.timeout, 20);
    const devices = await userDevices(call, String(data.id));
    const eps = devices
      .map((d) => deviceEndpoint(call, d, { timeoutS, delayS: num(data.delay, 0) }))
      .filter((e): e is Endpoint => e !== undefined);
    const strategy = data.strategy === 'single' ? 'single' : 'simultaneous';
    const r = await bridge(call, eps, { timeoutS, strategy });
    if (r.ok) return STOP;
    call.log.info({ cause: r.cause, code: r.code, endpoints: eps.length }, 'user: bridge failed');
    return next(failureBranch(children, r));
  },
};
