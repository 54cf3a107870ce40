/**
 * Issue 9, item 1 on the embedded broker (the node's default): see oversized-names.ts.
 */
import { describe } from 'vitest';
import { oversizedNames } from './oversized-names.ts';

describe('oversized AMQP names on the embedded broker', () => oversizedNames(() => ({ url: 'embedded' })));
