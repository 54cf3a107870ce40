/** crossbar's queues and agents (acdc-queues.suite.ts) on the embedded store. */
import { describeAcdcQueues } from './acdc-queues.suite.ts';

describeAcdcQueues('embedded store');
