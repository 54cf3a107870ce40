/**
 * cf_hangup: hangs the call up (`hangup`, with `Hangup-Cause` from data `hangup_cause`
 * when given) and ends the flow.
 */
import { firstProblem, optString, STOP, type CfModule } from './module.ts';

export const hangup: CfModule = {
  name: 'hangup',
  check: (d) => firstProblem(optString(d, 'hangup_cause')),
  async run(data, call) {
    const cause = typeof data.hangup_cause === 'string' ? { 'Hangup-Cause': data.hangup_cause } : {};
    await call.send('hangup', cause);
    return STOP;
  },
};
