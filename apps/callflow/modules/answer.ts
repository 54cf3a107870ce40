/** cf_answer: answers the call (`answer`), then the `_` child. Data: none. */
import { next, type CfModule } from './module.ts';

export const answer: CfModule = {
  name: 'answer',
  check: () => undefined,
  async run(_data, call) {
    await call.exec('answer');
    return next();
  },
};
