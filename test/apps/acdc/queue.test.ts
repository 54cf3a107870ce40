/** ACDC on the embedded bus (see queue.suite.ts). */
import { describe } from 'vitest';
import { acdcSuite } from './queue.suite.ts';
import { startAcdc } from './harness.ts';

describe('acdc on the embedded bus', () => acdcSuite((queue) => startAcdc({ queue }), { embedded: true }));
