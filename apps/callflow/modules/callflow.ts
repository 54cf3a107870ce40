/**
 * cf_callflow: branches to another callflow document of the account. Data: `id`
 * (required). The other document's flow is checked as at routing; one that fails the
 * check is an error (prompt, hang-up). Loops through it are cut by the executor's step
 * bound.
 */
import { reqString, type CfModule } from './module.ts';
import { DocError, typedDoc } from './endpoints.ts';
import { checkFlow } from '../flow.ts';

export const callflow: CfModule = {
  name: 'callflow',
  check: (d) => reqString(d, 'id'),
  async run(data, call) {
    const doc = await typedDoc(call, String(data.id), 'callflow');
    const flow = checkFlow(doc.flow);
    if ('problem' in flow) throw new DocError(`callflow ${String(data.id)}: ${flow.problem}`);
    return { kind: 'branch', flow };
  },
};
