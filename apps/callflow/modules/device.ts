/**
 * cf_device: rings one device. Data: `id` (device document, required), `timeout`
 * (seconds, default 20), `delay` (seconds). Sends `bridge` to the device's endpoint; a
 * bridge that happened ends the flow (hung up after it, as cf_exe:stop); a failed one
 * takes the child keyed by the hangup cause, else the SIP code, else `_`. A missing,
 * disabled-as-document or non-device document is an error (prompt, hang-up).
 */
import { firstProblem, next, num, optNumber, reqString, STOP, type CfModule } from './module.ts';
import { bridge, deviceEndpoint, failureBranch, typedDoc } from './endpoints.ts';

export const device: CfModule = {
  name: 'device',
  check: (d) => firstProblem(reqString(d, 'id'), optNumber(d, 'timeout'), optNumber(d, 'delay')),
  async run(data, call, children) {
    const doc = await typedDoc(call, String(data.id), 'device');
    const timeoutS = num(data.timeout, 20);
    const ep = deviceEndpoint(call, doc, { timeoutS, delayS: num(data.delay, 0) });
    const r = await bridge(call, ep === undefined ? [] : [ep], { timeoutS, strategy: 'simultaneous' });
    if (r.ok) return STOP;
    call.log.info({ cause: r.cause, code: r.code }, 'device: bridge failed');
    return next(failureBranch(children, r));
  },
};
